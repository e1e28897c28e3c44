"""The terminal's connection to a ticket engine: in-process (default) or remote, made once per process."""

from dataclasses import dataclass

import streamlit as st

from ticketing.client import TicketingClient
from ticketing.embedded import open_engine, start_simulator
from ticketing.engine import TicketEngine
from ticketing.errors import TicketingError
from ticketing.models import OperatorProfile
from ticketing.odds_simulator import OddsSimulator
from ticketing.pricing import TaxProfile
from ticketing.terminal_settings import TerminalSettings


@dataclass
class Connection:
    settings: TerminalSettings
    service: TicketEngine | TicketingClient
    simulator: OddsSimulator | None

    @property
    def mode(self) -> str:
        return f"remote engine at {self.settings.api_url}" if self.settings.remote else "embedded engine (SQLite)"

    def profile(self) -> OperatorProfile:
        return _operator_profile(self)

    def tax_profile(self) -> TaxProfile:
        profile = self.profile()
        return TaxProfile(excise_rate=profile.excise_rate, withholding_rate=profile.withholding_rate)

    def answers(self) -> bool:
        try:
            if isinstance(self.service, TicketingClient):
                self.service.health()
            else:
                self.service.list_open_coupons()
        except TicketingError:
            return False
        return True


def _secrets_table() -> dict:
    if not st.secrets.load_if_toml_exists():
        return {}
    return dict(st.secrets.get("ticketing", {}))


@st.cache_resource(show_spinner=False)
def _connect(settings_json: str) -> Connection:
    settings = TerminalSettings.model_validate_json(settings_json)
    if settings.remote:
        return Connection(settings, TicketingClient(settings.api_url, settings.operator, settings.secret), None)
    engine = open_engine(settings.engine)
    return Connection(settings, engine, start_simulator(engine, settings.engine))


@st.cache_data(ttl=60, show_spinner=False, hash_funcs={Connection: lambda c: c.settings.model_dump_json()})
def _operator_profile(connection: Connection) -> OperatorProfile:
    return connection.service.operator_profile(connection.settings.operator)


def connection() -> Connection:
    """Settings are read on every run (cheap); the engine or client behind them is made once per settings."""
    return _connect(TerminalSettings.load(_secrets_table()).model_dump_json())
