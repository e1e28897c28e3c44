"""Where a player's money lives: the engine's own accounts (`internal`) or the operator's wallet (`pam`), reached
through Betstack's PAM Platform API, with a durable outbox for everything after the sale (README "Wallets")."""
