"""The engine in-process: the default of the terminal and the core of the API server."""

import logging

from ticketing.access.acting import ActingEngine
from ticketing.contract.errors import TicketingError
from ticketing.demo.data import DEMO_OPERATOR, seed_demo_data
from ticketing.engine import TicketEngine
from ticketing.odds.simulator import OddsSimulator
from ticketing.settings import DEMO_FEED_KEY_ID, Settings
from ticketing.storage import Store, database_url

log = logging.getLogger(__name__)


def open_engine(settings: Settings) -> TicketEngine:
    """Schema created and demo data seeded on first start (both idempotent); a settlement a crash interrupted is
    finished; sales a crash left waiting for their wallet are discarded, and the wallets' outbox is delivered."""
    store = Store(database_url(settings.database))
    store.create_schema()
    engine = TicketEngine(store, wallet_settings=settings.wallet)
    with store.setup_lock():
        seed_demo_data(
            engine,
            settings.site_secret,
            settings.site_feed_secret,
            settings.site_admin_secret,
            max_payout=settings.max_payout,
            wallet_url=settings.site_wallet_url,
            wallet_secret=settings.site_wallet_secret,
        )
    engine.after_sale.settle_pending()
    engine.start_outbox()
    return engine


def demo_feed(engine: TicketEngine, settings: Settings) -> ActingEngine:
    """The demo operator's feed credential, as the odds simulator uses it."""
    return ActingEngine(engine, engine.authenticate(DEMO_OPERATOR, DEMO_FEED_KEY_ID, settings.site_feed_secret))


def start_simulator(engine: TicketEngine, settings: Settings) -> OddsSimulator | None:
    """The demo's live odds, moved as the demo feed; off (and said so in the log) when that credential is refused,
    e.g. revoked: the engine still serves."""
    if not settings.simulator:
        return None
    try:
        feed = demo_feed(engine, settings)
    except TicketingError as refused:
        log.warning("odds simulator off: %s %s", DEMO_FEED_KEY_ID, refused.message)
        return None
    return OddsSimulator(
        feed,
        seed=settings.simulator_seed,
        interval=settings.simulator_interval,
        moves_per_tick=settings.simulator_moves,
    ).start()
