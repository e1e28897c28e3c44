"""A demo round: a short coupon that closes in a few minutes, and its matches "played" by drawing each result from
the odds. Pure, no I/O: the terminal publishes the coupon and enters the results (`terminal_ui/demo_round.py`).

A presenter shows the whole life of a ticket in about five minutes: sell on the short coupon while its odds move,
watch the results come in and settle it, pay the winners at the counter. The draw is seeded, so a rehearsed demo
plays the same way on the day.
"""

import random
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

from ticketing.contract.models import BET_AWAY, BET_DRAW, BET_HOME, Coupon, EventResult
from ticketing.demo.data import DEMO_CURRENCY, FIXTURES, fair_odds

DEMO_EVENTS = 6
CLOSES_IN = timedelta(minutes=3)
FIRST_EVENT_ID = 880001
RESULT_OF_BET = {BET_HOME: EventResult.HOME, BET_DRAW: EventResult.DRAW, BET_AWAY: EventResult.AWAY}


def demo_round_coupon(
    now: datetime, seed: int, events: int = DEMO_EVENTS, closes_in: timedelta = CLOSES_IN, zone: tzinfo = UTC
) -> dict:
    """The coupon in the engine's JSON format (what `publish_coupon` takes), closing `closes_in` after `now`; its id
    and name tell the deadline in `zone` (the operator's), as every screen tells it.

    One correct pick short of all pays a bonus prize, so the settlement shows a bonus tier as well as winners."""
    rng = random.Random(seed)
    closes_at = (now + closes_in).replace(microsecond=0)
    local = closes_at.astimezone(zone)
    fixtures = rng.sample(FIXTURES, events)
    return {
        "id": f"DEMO-{local:%m%d-%H%M%S}",
        "name": f"Demo round {local:%H:%M}",
        "currency": DEMO_CURRENCY,
        "closes_at": closes_at.isoformat(),
        "stake_rules": {"min_stake": "10.00", "max_stake": "1000.00"},
        "max_payout": "1000000.00",
        "bonus_prizes": {str(events - 1): "500.00"},
        "events": [
            {
                "id": FIRST_EVENT_ID + n,
                "home": home,
                "away": away,
                "competition": competition,
                "kickoff": (closes_at + timedelta(minutes=5 * (n + 1))).isoformat(),
                "odds": {str(bet): str(odds) for bet, odds in fair_odds(rng).items()},
            }
            for n, (competition, home, away) in enumerate(fixtures)
        ],
    }


def result_chances(odds: dict[int, Decimal]) -> dict[EventResult, float]:
    """The bookmaker's implied probabilities, margin taken out: 1/odds, normalised to sum to 1."""
    implied = {RESULT_OF_BET[bet]: 1 / float(value) for bet, value in odds.items() if bet in RESULT_OF_BET}
    total = sum(implied.values())
    return {result: p / total for result, p in implied.items()}


def draw_results(coupon: Coupon, seed: int) -> dict[int, EventResult]:
    """Each match played: a result drawn with the odds' implied chances (the odds the coupon has now, after the
    market moved). The same coupon and seed draw the same results."""
    rng = random.Random(f"{coupon.id}:{seed}")
    drawn = {}
    for event in coupon.events:
        chances = result_chances(event.odds)
        outcomes = sorted(chances, key=lambda result: result.value)
        drawn[event.id] = rng.choices(outcomes, weights=[chances[o] for o in outcomes])[0]
    return drawn
