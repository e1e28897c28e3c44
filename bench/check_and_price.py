"""Microseconds a sale spends checking and pricing its picks, in-process, for the demo coupons of 7, 13 and 17 events:
`validate_ticket` (the sale's checks against the coupon, the odds' product) and `price_in_cents` (the ticket's
figures), then the whole ticket as the engine builds it (`priced_ticket`). Both pick shapes: `bets` (positional,
what the terminal sends) and `events` (each pick with the odds the player saw). Best of several repeats, each the
mean of many sales: this machine's speed moves between seconds, the best repeat is the code's own cost.

    python bench/check_and_price.py [--sales 2000 --repeats 15]
"""

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ticketing.contract.identifiers import new_ticket_id  # noqa: E402
from ticketing.contract.models import Coupon, TicketRequest  # noqa: E402
from ticketing.demo.data import DEMO_COUPONS, DEMO_CURRENCY, SAMPLE_TOKEN, demo_coupon  # noqa: E402
from ticketing.selling.pricing import TaxProfile, payout_cap, price_in_cents  # noqa: E402
from ticketing.selling.rules import validate_ticket  # noqa: E402
from ticketing.selling.tickets import priced_ticket  # noqa: E402

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
PROFILE = TaxProfile()
OPERATOR_CAP = 100_000_000
TICKET_ID = new_ticket_id(NOW)


def request_for(coupon: Coupon, shape: str, rng: random.Random) -> TicketRequest:
    bets = [rng.choice(sorted(event.odds)) for event in coupon.events]
    picks = (
        {"bets": bets}
        if shape == "bets"
        else {
            "events": [
                {"id": event.id, "bet": bet, "odds": str(event.odds[bet])}
                for event, bet in zip(coupon.events, bets, strict=True)
            ]
        }
    )
    return TicketRequest.model_validate(
        {
            "operator": "site",
            "stake": str(coupon.stake_rules.min_stake),
            "currency": DEMO_CURRENCY,
            "source": "retail",
            "type": "jackpot",
            "token": SAMPLE_TOKEN,
            "odds_diff": "0.1",
            "coupon_id": coupon.id,
            **picks,
        }
    )


def best_microseconds(work, sales: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(sales):
            work()
        best = min(best, (time.perf_counter() - started) / sales)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(17)
    print(f"µs a sale, best of {args.repeats} repeats of {args.sales} sales")
    print(f"{'events':>6} {'shape':>7} {'check':>8} {'check+price':>12} {'whole ticket':>13}")
    for spec in DEMO_COUPONS:
        coupon = demo_coupon(spec, NOW - timedelta(hours=1), rng)
        cap = payout_cap(coupon.max_payout, OPERATOR_CAP)
        for shape in ("bets", "events"):
            request = request_for(coupon, shape, rng)

            def check(request=request, coupon=coupon):
                return validate_ticket(request, coupon, DEMO_CURRENCY, NOW)

            def check_and_price(request=request, coupon=coupon, cap=cap):
                picks = validate_ticket(request, coupon, DEMO_CURRENCY, NOW)
                return price_in_cents(request.stake, picks.odds_num, picks.odds_den, PROFILE, cap)

            def whole_ticket(request=request, coupon=coupon, cap=cap):
                picks = validate_ticket(request, coupon, DEMO_CURRENCY, NOW)
                return priced_ticket(
                    request,
                    picks,
                    PROFILE,
                    cap,
                    ticket_id=TICKET_ID,
                    operator="site",
                    coupon_id=coupon.id,
                    user_id="1660986605374148608",
                    atag=None,
                    now=NOW,
                )

            works = (check, check_and_price, whole_ticket)
            figures = [best_microseconds(work, args.sales, args.repeats) for work in works]
            print(f"{len(coupon.events):>6} {shape:>7} {figures[0]:>8.1f} {figures[1]:>12.1f} {figures[2]:>13.1f}")


if __name__ == "__main__":
    main()
