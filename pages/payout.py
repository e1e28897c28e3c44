"""Pay out: the screen lives in `terminal_ui/payout.py` (an imported module is compiled once per process)."""

from terminal_ui.entry import ensure_entry_script
from terminal_ui.payout import payout_page

ensure_entry_script("pages/payout.py")
payout_page()
