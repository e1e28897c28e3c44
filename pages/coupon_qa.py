"""Coupon QA: the screen lives in `terminal_ui/coupon_qa.py` (an imported module is compiled once per process)."""

from terminal_ui.coupon_qa import coupon_qa_page
from terminal_ui.entry import ensure_entry_script

ensure_entry_script("pages/coupon_qa.py")
coupon_qa_page()
