"""Who may do what: credentials with roles, request signatures and replays (README "Contract decisions", Access)."""
