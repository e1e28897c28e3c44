"""A till shift's reporting: its tickets as a table, cash operations and end-of-shift figures."""
