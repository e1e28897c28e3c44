"""The sale: its pure rules and pricing, the slip's summary, the group commit, and `POST /be/tickets`."""
