"""Configuration from the environment, with defaults that need nothing else (README "Configuration")."""

import os
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field

from ticketing.models import DEFAULT_MAX_PAYOUT, Money

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = PROJECT_ROOT / ".data" / "ticketing.sqlite3"
DEMO_SITE_SECRET = "12345ABCDE"
"""Betstack's published example key: fine for a demo on 127.0.0.1, to be replaced for real use."""
DEMO_FEED_KEY_ID, DEMO_FEED_SECRET = "site-feed", "site-feed-demo-secret"
DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET = "site-admin", "site-admin-demo-secret"
"""The demo operator's feed and admin credentials (README "Configuration"): demo defaults, like the site secret."""


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
        )
