"""Shift: the screen lives in `terminal_ui/shift.py` (an imported module is compiled once per process)."""

from terminal_ui.entry import ensure_entry_script
from terminal_ui.shift import shift_page

ensure_entry_script("pages/shift.py")
shift_page()
