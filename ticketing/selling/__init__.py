"""The sale: a ticket's pure rules and pricing, the slip's summary, and the group commit that writes sales."""
