"""The demo's live odds: the simulator that moves them and the feed process that runs it."""
