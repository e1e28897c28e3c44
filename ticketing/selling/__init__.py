"""Selling: a ticket from its request to its durable record (rules, pricing, the group commit, the sale endpoint)."""
