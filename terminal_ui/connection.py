"""The terminal's connection to a ticket engine: in-process (default) or remote, made once per process.

Either way the pages hold a service bound to one credential: `ActingEngine` in-process, `TicketingClient` remote,
with the same methods. The till's is made once; an admin's is configured or signed in per browser session.

Made once per process and kept in this module, not in `st.cache_resource`: Streamlit's "Clear caches" empties that
cache, and a second embedded engine would start a second odds simulator (odds moving twice as often, one more per
clear). Nothing a user does in the browser can make a second connection for the same settings.
"""

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from ticketing.access.acting import ActingEngine
from ticketing.access.roles import Actor, Role
from ticketing.client import TicketingClient
from ticketing.contract.errors import TicketingError
from ticketing.contract.models import Coupon, OperatorProfile
from ticketing.embedded import open_engine, start_simulator
from ticketing.engine import TicketEngine
from ticketing.odds.simulator import OddsSimulator
from ticketing.selling.pricing import TaxProfile
from ticketing.terminal_settings import TerminalSettings

Service = ActingEngine | TicketingClient
SOLD_KEPT = 5


@dataclass
class Connection:
    settings: TerminalSettings
    service: Service
    """The till: sells, finds tickets, reads coupons."""
    simulator: OddsSimulator | None
    engine: TicketEngine | None = None
    """The in-process engine (embedded mode only): where an entered credential is checked."""
    sold: deque = field(default_factory=lambda: deque(maxlen=SOLD_KEPT))
    """The last tickets this terminal sold, newest first, with their coupons: `(Ticket, Coupon)`."""
    _memo: dict[str, tuple[float, Any]] = field(default_factory=dict)
    _derived: dict[Hashable, tuple[Any, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def mode(self) -> str:
        return f"remote engine at {self.settings.api_url}" if self.settings.remote else "embedded engine (SQLite)"

    @property
    def till_credential(self) -> str:
        return Actor(operator=self.settings.operator, role=Role.TILL, key_id=self.settings.key_id).credential

    def sign_in(self, key_id: str | None, secret: str) -> tuple[Actor, Service]:
        """A service acting for the given credential of this terminal's operator, once the engine has accepted it
        (`InvalidSignature` otherwise); its role is the one the engine knows, whatever was asked for."""
        operator = self.settings.operator
        if self.engine is not None:
            actor = self.engine.authenticate(operator, key_id, secret)
            return actor, ActingEngine(self.engine, actor)
        client = TicketingClient(self.settings.api_url, operator, secret, key_id)
        try:
            return client.whoami(), client
        except TicketingError:
            client.close()
            raise

    def profile(self) -> OperatorProfile:
        return self._recent("profile", 60, self.service.operator_profile)

    def tax_profile(self) -> TaxProfile:
        profile = self.profile()
        return self.derived(
            "tax_profile",
            profile,
            lambda: TaxProfile(excise_rate=profile.excise_rate, withholding_rate=profile.withholding_rate),
        )

    def answers(self) -> bool:
        return self._recent("answers", 5, self._ping)

    def open_coupons(self, including: str | None = None) -> list[Coupon]:
        """For the coupon picker: names and stake rules, up to 5 s old. Live odds come from `live_coupon`.

        Read again at once if `including` is not among them: a coupon published a moment ago, opened by its link."""
        coupons = self._recent("open_coupons", 5, self.service.list_open_coupons)
        if including is not None and all(coupon.id != including for coupon in coupons):
            coupons = self._recent("open_coupons", 0, self.service.list_open_coupons)
        return coupons

    def live_coupon(self, coupon_id: str, max_age: float) -> Coupon:
        """Odds and event states up to `max_age` seconds old, shared by every session of this process."""
        return self._recent(f"coupon {coupon_id}", max_age, lambda: self.service.get_coupon(coupon_id))

    def derived(self, name: Hashable, source: Any, make: Callable[[], Any]) -> Any:
        """`make()` once per `source`, a value this connection shares between runs and sessions until it reads it
        again (the operator's profile, a live coupon): what every run would otherwise rebuild from the same object.
        A new read is a new object, so the value is made again from it."""
        kept = self._derived.get(name)
        if kept is not None and kept[0] is source:
            return kept[1]
        value = make()
        self._derived[name] = (source, value)
        return value

    def _ping(self) -> bool:
        try:
            self.service.health()
        except TicketingError:
            return False
        return True

    def _recent(self, name: str, seconds: float, load: Callable[[], Any]) -> Any:
        """A value shared by every session of this process, reloaded when older than `seconds`.

        Kept here rather than in st.cache_data, which would pickle and copy the coupons on every rerun."""
        now = time.monotonic()
        with self._lock:
            cached = self._memo.get(name)
        if cached is not None and now - cached[0] < seconds:
            return cached[1]
        value = load()
        with self._lock:
            self._memo[name] = (now, value)
        return value


SECRETS_LOOKED_FOR_EVERY_SECONDS = 1.0


@dataclass
class SecretsTable:
    """The `[ticketing]` table of the secrets file, asked for on every run of every page.

    While there is no secrets file Streamlit looks for it again on every call (file system checks and an exception
    it formats: ~0.15 ms of each run); a missing file is looked for again after a second instead. Remembered for one
    `st.secrets` object: AppTest gives each run its own, with its secrets already in it."""

    missing_in: object = None
    missing_until: float = 0.0

    def read(self, now: float) -> dict:
        secrets = st.secrets
        if secrets is self.missing_in and now < self.missing_until:
            return {}
        if not secrets.load_if_toml_exists():
            self.missing_in, self.missing_until = secrets, now + SECRETS_LOOKED_FOR_EVERY_SECONDS
            return {}
        return dict(secrets.get("ticketing", {}))


_secrets_table = SecretsTable()


_connections: dict[str, Connection] = {}
"""By the settings they were made for."""
_by_source: dict[tuple[tuple[tuple[str, str], ...], str], Connection] = {}
"""By what the settings were read from: the `TICKETING_*` environment and the `[ticketing]` secrets table."""
_connections_lock = threading.Lock()


def _open(settings: TerminalSettings) -> Connection:
    if settings.remote:
        till = TicketingClient(settings.api_url, settings.operator, settings.secret, settings.key_id)
        return Connection(settings, till, None)
    engine = open_engine(settings.engine)
    try:
        till = ActingEngine(engine, engine.authenticate(settings.operator, settings.key_id, settings.secret))
    except TicketingError:
        engine.close()
        raise
    return Connection(settings, till, start_simulator(engine, settings.engine), engine)


def connection() -> Connection:
    """The connection for the settings the environment and the secrets give now; the engine or client behind them
    is made once per settings.

    Every run of every page asks, so the settings are built and compared only when their sources change: a
    changed `TICKETING_*` variable or secrets table still gives the connection of the new settings."""
    table = _secrets_table.read(time.monotonic())
    source = (tuple((name, value) for name, value in os.environ.items() if name.startswith("TICKETING_")), repr(table))
    made = _by_source.get(source)
    if made is not None:
        return made
    settings_json = TerminalSettings.load(table).model_dump_json()
    with _connections_lock:
        if settings_json not in _connections:
            try:
                _connections[settings_json] = _open(TerminalSettings.model_validate_json(settings_json))
            except TicketingError as refused:
                st.error(f"The till's credential was refused: {refused.message}. Check TICKETING_OPERATOR_SECRET.")
                st.stop()
        made = _by_source[source] = _connections[settings_json]
        return made
