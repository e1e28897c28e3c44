"""The engine in-process: the default of the terminal and the core of the API server."""

from ticketing.demo_data import seed_demo_data
from ticketing.engine import TicketEngine
from ticketing.odds_simulator import OddsSimulator
from ticketing.settings import Settings
from ticketing.storage import Store, database_url


def open_engine(settings: Settings) -> TicketEngine:
    """Schema created and demo data seeded on first start (both idempotent); a settlement a crash interrupted is
    finished."""
    store = Store(database_url(settings.database))
    store.create_schema()
    engine = TicketEngine(store)
    with store.setup_lock():
        seed_demo_data(engine, settings.site_secret, max_payout=settings.max_payout)
    engine.after_sale.settle_pending()
    return engine


def start_simulator(engine: TicketEngine, settings: Settings) -> OddsSimulator | None:
    if not settings.simulator:
        return None
    return OddsSimulator(
        engine,
        seed=settings.simulator_seed,
        interval=settings.simulator_interval,
        moves_per_tick=settings.simulator_moves,
    ).start()
