"""The demo: its operator, accounts and coupons, and the demo round's coupon and drawn results."""
