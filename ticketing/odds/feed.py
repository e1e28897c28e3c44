"""The live odds simulator as its own process, for an engine that runs several workers (exactly one source moves
the odds): `python -m ticketing.odds.feed`. Reads the same environment as the API (`TICKETING_DB`, seed, interval).
"""

import logging
import signal
import threading

from ticketing.embedded import demo_feed, open_engine
from ticketing.odds.simulator import OddsSimulator
from ticketing.settings import Settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings.from_env()
    engine = open_engine(settings)
    simulator = OddsSimulator(
        demo_feed(engine, settings),
        seed=settings.simulator_seed,
        interval=settings.simulator_interval,
        moves_per_tick=settings.simulator_moves,
    ).start()
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    logging.getLogger("ticketing.odds.feed").info(
        "moving odds every %s s on %s", settings.simulator_interval, engine.store.engine.dialect.name
    )
    stopped.wait()
    simulator.stop()
    engine.close()


if __name__ == "__main__":
    main()
