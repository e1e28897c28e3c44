"""A small coupon a test can reason about, in the engine's JSON format, and raw reads of what the database holds."""

from datetime import datetime, timedelta

from sqlalchemy import func, select

from ticketing.storage import Store, cash_operations, coupons, tickets

SMALL = "QA-SMALL"
EVENT_IDS = [710001, 710002, 710003, 710004]


def small_coupon(now: datetime, **changes) -> dict:
    """Four events, stakes 10 to 1000, a 500.00 cap, one void event allowed, a 200.00 bonus for 3 correct; times
    with their offset, as the QA page sends them."""
    closes_at = now + timedelta(days=1)
    odds = [("1.50", "4.00", "6.00"), ("2.00", "3.30", "3.80"), ("2.50", "3.10", "2.90"), ("1.80", "3.60", "4.50")]
    raw = {
        "id": SMALL,
        "name": "Small QA coupon",
        "currency": "KES",
        "closes_at": closes_at.isoformat(),
        "stake_rules": {"min_stake": "10.00", "max_stake": "1000.00"},
        "max_payout": "500.00",
        "max_void_events": 1,
        "bonus_prizes": {"3": "200.00"},
        "events": [
            {
                "id": event_id,
                "home": f"Home {n}",
                "away": f"Away {n}",
                "competition": "QA League",
                "kickoff": (closes_at + timedelta(hours=1 + n)).isoformat(),
                "odds": {"101": home, "102": draw, "103": away},
            }
            for n, (event_id, (home, draw, away)) in enumerate(zip(EVENT_IDS, odds, strict=True))
        ],
    }
    return raw | changes


def all_tickets(store: Store) -> list:
    """Every row of `tickets`, test ones included (the engine's own lists leave them out)."""
    with store.read() as conn:
        return list(conn.execute(select(tickets.c.id, tickets.c.code, tickets.c.coupon_id, tickets.c.test)))


def cash_operation_count(store: Store) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(cash_operations)).scalar_one()


def coupon_rows(store: Store) -> dict[str, str]:
    """Every row of `coupons`: id -> status (sandbox copies included)."""
    with store.read() as conn:
        return {row.id: row.status for row in conn.execute(select(coupons.c.id, coupons.c.status))}
