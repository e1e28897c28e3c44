"""Configuration from the environment, with defaults that need nothing else (README "Configuration")."""

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ticketing.contract.models import DEFAULT_MAX_PAYOUT, Money

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = PROJECT_ROOT / ".data" / "ticketing.sqlite3"
DEMO_SITE_SECRET = "12345ABCDE"
"""Betstack's published example key: fine for a demo on 127.0.0.1, to be replaced for real use."""
DEMO_FEED_KEY_ID, DEMO_FEED_SECRET = "site-feed", "site-feed-demo-secret"
DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET = "site-admin", "site-admin-demo-secret"
"""The demo operator's feed and admin credentials (README "Configuration"): demo defaults, like the site secret."""


class WalletSettings(BaseModel):
    """How the engine calls operators' PAM wallets (README "Wallets")."""

    timeout: float = 5.0
    """Seconds a call may take: a sale waits at most this for `ticket_create`, then answers 141 and discards."""
    identify_cache_seconds: float = 30.0
    """A token resolved by `identify` is reused this long (not for a balance shown on screen)."""
    first_retry_seconds: float = 1.0
    max_retry_seconds: float = 300.0
    """An outbox message that got no answer is sent again after 1, 2, 4... seconds, at most this apart."""
    discard_retry_seconds: float = 1800.0
    """A `ticket_discard` that got no answer is sent again after this (Betstack: 30 minutes)."""
    max_attempts: int = 12
    """After this many unanswered attempts a message is `failed`: shown to the operator, retried by hand."""
    poll_seconds: float = 0.5


class Settings(BaseModel):
    database: str = str(DEFAULT_DB)
    simulator: bool = True
    simulator_seed: int | None = None
    simulator_interval: float = 3.0
    simulator_moves: int = 4
    site_secret: str = Field(default=DEMO_SITE_SECRET, repr=False)
    site_feed_secret: str = Field(default=DEMO_FEED_SECRET, repr=False)
    site_admin_secret: str = Field(default=DEMO_ADMIN_SECRET, repr=False)
    max_payout: Annotated[Money, Field(gt=0)] = DEFAULT_MAX_PAYOUT
    site_wallet_url: str | None = None
    """The demo operator's PAM wallet; unset: its players' money is in the engine's accounts."""
    site_wallet_secret: str | None = Field(default=None, repr=False)
    wallet: WalletSettings = WalletSettings()
    sale_writer: Literal["process", "thread"] = "process" if hasattr(os, "fork") else "thread"
    """Who writes the HTTP API's sales: a process of its own (`selling/sale_process.py`), or a thread of the HTTP
    process (the only way where there is no `fork`)."""

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        seed = env.get("TICKETING_SIMULATOR_SEED")
        return cls(
            database=env.get("TICKETING_DB") or str(DEFAULT_DB),
            simulator=env.get("TICKETING_SIMULATOR", "on").strip().lower() not in ("off", "0", "false", "no"),
            simulator_seed=int(seed) if seed else None,
            simulator_interval=float(env.get("TICKETING_SIMULATOR_INTERVAL", "3")),
            simulator_moves=int(env.get("TICKETING_SIMULATOR_MOVES", "4")),
            site_secret=env.get("TICKETING_SITE_SECRET") or DEMO_SITE_SECRET,
            site_feed_secret=env.get("TICKETING_SITE_FEED_SECRET") or DEMO_FEED_SECRET,
            site_admin_secret=env.get("TICKETING_SITE_ADMIN_SECRET") or DEMO_ADMIN_SECRET,
            max_payout=env.get("TICKETING_MAX_PAYOUT") or DEFAULT_MAX_PAYOUT,
            site_wallet_url=env.get("TICKETING_SITE_WALLET_URL") or None,
            site_wallet_secret=env.get("TICKETING_SITE_WALLET_SECRET") or None,
            sale_writer=env.get("TICKETING_SALE_WRITER") or cls.model_fields["sale_writer"].default,
            wallet=WalletSettings(
                **{
                    field: env[f"TICKETING_WALLET_{field.upper()}"]
                    for field in WalletSettings.model_fields
                    if env.get(f"TICKETING_WALLET_{field.upper()}")
                }
            ),
        )
