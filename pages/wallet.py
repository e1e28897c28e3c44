"""Wallet: the screen lives in `terminal_ui/wallet.py` (an imported module is compiled once per process)."""

from terminal_ui.entry import ensure_entry_script
from terminal_ui.wallet import wallet_page

ensure_entry_script("pages/wallet.py")
wallet_page()
