"""The sell screen: pick a coupon, pick 1/X/2 for every event at live odds, stake, sell, print the receipt.

The code lives in `terminal_ui/sell.py`: an imported module is compiled and executed once per process, a page
script is executed on every run (and compiled on every run under AppTest)."""

from terminal_ui.entry import ensure_entry_script
from terminal_ui.sell import sell_page

ensure_entry_script("pages/terminal.py")
sell_page()
