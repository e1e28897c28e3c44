"""A coupon's worth of sold tickets written straight into the database, for settlement's benchmark and crash test.

The tickets are what `create_ticket` would store for coupon 457 (17 events, stake 99), priced by `price_ticket` at
the coupon's odds, picks drawn with the probabilities those odds imply; a third are on 1,000 player accounts (so
settlement credits accounts), the rest on a shop account (paid in cash). Writing them through the engine, one sale
at a time, would take minutes for 100,000.
"""

import random
from decimal import Decimal

from tests.support import SITE_ADMIN
from ticketing.contract.identifiers import new_ticket_code, new_ticket_id, token_fingerprint
from ticketing.contract.models import EventResult
from ticketing.contract.money import to_cents
from ticketing.selling.pricing import TaxProfile, price_ticket
from ticketing.storage import INSERT_TICKET, INSERT_TICKET_EVENTS, Account, bonus_prizes

COUPON = "457"
PLAYERS = 1000
BONUS = {16: Decimal("100000.03"), 15: Decimal("10000.03"), 14: Decimal("1000.03")}
"""Odd cents, so that the withholding tax on a prize needs rounding."""
LABELS = {101: EventResult.HOME, 102: EventResult.DRAW, 103: EventResult.AWAY}


def draw(rng: random.Random, odds: dict[int, Decimal]) -> int:
    """A bet drawn with the probabilities the odds imply."""
    bets = list(odds)
    return rng.choices(bets, weights=[float(1 / odds[b]) for b in bets])[0]


def write_tickets(engine, count: int, rng: random.Random) -> None:
    store = engine.store
    coupon = engine.get_coupon(SITE_ADMIN, COUPON)
    now = engine.clock()
    with store.write() as conn:
        for n in range(PLAYERS):
            store.add_account(
                conn,
                Account(
                    token_sha256=token_fingerprint(f"player-{n}"),
                    operator="site",
                    user_id=f"88{n:08d}",
                    balance=Decimal(0),
                ),
            )
        conn.execute(
            bonus_prizes.insert(),
            [{"coupon_id": COUPON, "correct": c, "amount_cents": to_cents(a)} for c, a in BONUS.items()],
        )
    codes: set[str] = set()
    batch = 5000
    for start in range(0, count, batch):
        rows, picks = [], []
        for n in range(start, min(start + batch, count)):
            bets = [draw(rng, e.odds) for e in coupon.events]
            odds = [e.odds[b] for e, b in zip(coupon.events, bets, strict=True)]
            price = price_ticket(Decimal(99), odds, TaxProfile(), coupon.max_payout)
            code = new_ticket_code()
            while code in codes:
                code = new_ticket_code()
            codes.add(code)
            ticket_id = new_ticket_id(now)
            player = n % 3 == 0
            rows.append(
                {
                    "id": ticket_id,
                    "code": code,
                    "operator": "site",
                    "user_id": f"88{n % PLAYERS:08d}" if player else "shop",
                    "token_sha256": token_fingerprint(f"player-{n % PLAYERS}" if player else "shop-token"),
                    "coupon_id": COUPON,
                    "currency": "KES",
                    "stake_cents": 9900,
                    "net_stake_cents": 9900,
                    "excise_cents": 0,
                    "total_odds": str(price.display_odds),
                    "payout_cents": to_cents(price.payout),
                    "tax_cents": to_cents(price.tax),
                    "net_payout_cents": to_cents(price.net_payout),
                    "odds_diff": 0,
                    "status": "new",
                    "result": "pending",
                    "approved": True,
                    "source": "retail",
                    "type": "jackpot",
                    "atag": None,
                    "idempotency_key": None,
                    "request_sha256": "0" * 64,
                    "created": now.replace(tzinfo=None),
                    "updated": now.replace(tzinfo=None),
                    "sold_by": "till-1",
                }
            )
            picks.extend(
                {"ticket_id": ticket_id, "position": i, "event_id": e.id, "bet": b, "odds": int(o * 100)}
                for i, (e, b, o) in enumerate(zip(coupon.events, bets, odds, strict=True))
            )
        with store.write() as conn:
            conn.execute(INSERT_TICKET, rows)
            conn.execute(INSERT_TICKET_EVENTS, picks)
    with store.write() as conn:
        store.add_account(
            conn,
            Account(
                token_sha256=token_fingerprint("shop-token"),
                operator="site",
                user_id="shop",
                balance=Decimal(0),
                kind="shop",
            ),
        )
