"""Results: the screen lives in `terminal_ui/results.py` (an imported module is compiled once per process)."""

from terminal_ui.entry import ensure_entry_script
from terminal_ui.results import results_page

ensure_entry_script("pages/results.py")
results_page()
