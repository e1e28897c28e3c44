"""The live odds simulator: a seedable, bounded random walk that moves a few odds on open coupons every tick.

It writes through the engine like a real feed would (`update_event`, acting for the demo operator's feed
credential), so the engine's odds stay the one authority the `odds_diff` check uses.
"""

import logging
import random
import threading
from decimal import Decimal

from ticketing.access.acting import ActingEngine
from ticketing.contract.models import EventStatus, EventUpdate
from ticketing.contract.money import round_odds

log = logging.getLogger(__name__)

MIN_ODDS, MAX_ODDS = Decimal("1.05"), Decimal("30.00")
MAX_STEP = Decimal("0.06")
"""Largest relative move of one odds value in one tick (6%)."""


def next_odds(current: Decimal, rng: random.Random) -> Decimal:
    """One step of the walk: a relative move of at most MAX_STEP, at least 0.01, kept within the bounds."""
    step = Decimal(str(rng.uniform(-1, 1))) * MAX_STEP
    moved = round_odds(current * (1 + step))
    if moved == current:
        moved = current + (Decimal("0.01") if rng.random() < 0.5 else Decimal("-0.01"))
    return min(MAX_ODDS, max(MIN_ODDS, moved))


class OddsSimulator:
    def __init__(self, feed: ActingEngine, seed: int | None = None, interval: float = 3.0, moves_per_tick: int = 4):
        self.feed = feed
        self.rng = random.Random(seed)
        self.interval = interval
        self.moves_per_tick = moves_per_tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> int:
        """Move some odds once; returns how many events moved."""
        events = [
            (coupon.id, event)
            for coupon in self.feed.list_open_coupons()
            for event in coupon.events
            if event.status == EventStatus.AVAILABLE
        ]
        chosen = self.rng.sample(events, min(self.moves_per_tick, len(events)))
        for coupon_id, event in chosen:
            bet = self.rng.choice(sorted(event.odds))
            self.feed.update_event(coupon_id, event.id, EventUpdate(odds={bet: next_odds(event.odds[bet], self.rng)}))
        return len(chosen)

    def start(self) -> "OddsSimulator":
        self._thread = threading.Thread(target=self._run, name="odds-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:
                # A failed tick (database busy, a coupon closed meanwhile) must not end the live odds.
                log.exception("odds simulator tick failed")
