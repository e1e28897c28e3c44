"""How a terminal connects: to the in-process engine (default) or to a remote engine over HTTP.

Remote when `TICKETING_API_URL` is set in the environment or `[ticketing] api_url` in `.streamlit/secrets.toml`.
The sell page and the tickets desk act for the till credential (the operator's Betstack key unless `key_id` names
another); pages that publish coupons act as admin only with an admin credential, configured here or entered on
the page.
"""

import os
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from ticketing.contract.models import OddsTolerance
from ticketing.demo.data import DEMO_OPERATOR, SAMPLE_TOKEN
from ticketing.settings import Settings

DEFAULT_SHOP_NAME = "Jackpot shop"
DEFAULT_TERMS = (
    "Bets are accepted under the operator's rules. Keep this receipt: it is needed to claim a win. 18+ only. "
    "Play responsibly."
)


class TerminalSettings(BaseModel):
    api_url: str | None = None
    operator: str = DEMO_OPERATOR
    secret: str = Field(default="", repr=False, description="The till credential's secret")
    key_id: str | None = Field(default=None, description="The till credential; none: the operator's Betstack key")
    admin_key_id: str | None = None
    admin_secret: str | None = Field(default=None, repr=False)
    shop_token: str = Field(default=SAMPLE_TOKEN, description="The shop's account token: tickets are sold on it")
    odds_diff: OddsTolerance = Decimal("0.00")
    timezone: str = Field(default="Africa/Nairobi", description="Where kickoffs and receipt times are shown")
    shop_name: str = Field(default=DEFAULT_SHOP_NAME, description="Printed at the top of every receipt")
    receipt_terms: str = Field(default=DEFAULT_TERMS, description="The terms line printed at the foot of a receipt")
    engine: Settings = Field(default_factory=Settings)

    @property
    def remote(self) -> bool:
        return bool(self.api_url)

    @classmethod
    def load(cls, secrets: Mapping[str, Any] | None = None) -> "TerminalSettings":
        """Environment first, then the `[ticketing]` table of Streamlit's secrets, then the demo defaults."""
        table = dict(secrets or {})
        env = os.environ
        engine = Settings.from_env()

        def pick(env_name: str, key: str, default: Any = None) -> Any:
            return env.get(env_name) or table.get(key) or default

        return cls(
            api_url=pick("TICKETING_API_URL", "api_url"),
            operator=pick("TICKETING_OPERATOR", "operator", DEMO_OPERATOR),
            secret=pick("TICKETING_OPERATOR_SECRET", "secret", engine.site_secret),
            key_id=pick("TICKETING_OPERATOR_KEY_ID", "key_id"),
            admin_key_id=pick("TICKETING_ADMIN_KEY_ID", "admin_key_id"),
            admin_secret=pick("TICKETING_ADMIN_SECRET", "admin_secret"),
            shop_token=pick("TICKETING_SHOP_TOKEN", "shop_token", SAMPLE_TOKEN),
            odds_diff=pick("TICKETING_ODDS_DIFF", "odds_diff", "0.00"),
            timezone=pick("TICKETING_TIMEZONE", "timezone", "Africa/Nairobi"),
            shop_name=pick("TICKETING_SHOP_NAME", "shop_name", DEFAULT_SHOP_NAME),
            receipt_terms=pick("TICKETING_RECEIPT_TERMS", "receipt_terms", DEFAULT_TERMS),
            engine=engine,
        )
