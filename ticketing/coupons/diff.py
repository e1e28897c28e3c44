"""What publishing a draft changes on a coupon already on sale, field by field and event by event. Pure, no I/O.

Shown before a republish is confirmed: a QA engineer signs off the changes, not two files compared by eye. The live
side is the coupon as it is now, so odds the feed has moved since it was published show as changes too (publishing
puts the draft's odds back).
"""

from datetime import tzinfo
from decimal import Decimal

from ticketing.contract.models import BET_IDS, PICK_LABELS, Coupon, CouponEvent
from ticketing.coupons.check import local_time
from ticketing.coupons.models import CouponChange


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:,.2f}"


def _odds(event: CouponEvent) -> str:
    return " ".join(f"{PICK_LABELS[bet]} {event.odds[bet]:.2f}" for bet in BET_IDS if bet in event.odds)


def _event_line(event: CouponEvent, zone: tzinfo) -> str:
    return f"{event.fixture} · {event.competition} · {local_time(event.kickoff, zone)} · {_odds(event)}"


def coupon_changes(live: Coupon, draft: Coupon, zone: tzinfo) -> list[CouponChange]:
    """Every difference, coupon fields first, then the draft's events in its order, then the events it drops.
    Times are shown in `zone` (the operator's)."""
    changes: list[CouponChange] = []

    def compare(where: str, event_id: int | None, field: str, was: str | None, will_be: str | None) -> None:
        if was != will_be:
            changes.append(CouponChange(where=where, event_id=event_id, field=field, live=was, draft=will_be))

    compare("coupon", None, "name", live.name, draft.name)
    compare("coupon", None, "currency", live.currency, draft.currency)
    compare("coupon", None, "closes_at", local_time(live.closes_at, zone), local_time(draft.closes_at, zone))
    for field in ("min_stake", "max_stake", "fixed_stake"):
        was, will_be = getattr(live.stake_rules, field), getattr(draft.stake_rules, field)
        compare("coupon", None, field, _amount(was), _amount(will_be))
    compare("coupon", None, "max_payout", _amount(live.max_payout), _amount(draft.max_payout))
    compare("coupon", None, "max_void_events", str(live.max_void_events), str(draft.max_void_events))
    for tier in sorted(set(live.bonus_prizes) | set(draft.bonus_prizes), reverse=True):
        was, will_be = live.bonus_prizes.get(tier), draft.bonus_prizes.get(tier)
        compare("coupon", None, f"bonus prize for {tier} correct", _amount(was), _amount(will_be))

    live_events = {event.id: (position, event) for position, event in enumerate(live.events, start=1)}
    draft_ids = {event.id for event in draft.events}
    for position, event in enumerate(draft.events, start=1):
        where = f"event {event.id} ({event.fixture})"
        if event.id not in live_events:
            compare(where, event.id, "event", None, f"added as #{position}: {_event_line(event, zone)}")
            continue
        was_at, was = live_events[event.id]
        compare(where, event.id, "position", f"#{was_at}", f"#{position}")
        compare(where, event.id, "home", was.home, event.home)
        compare(where, event.id, "away", was.away, event.away)
        compare(where, event.id, "competition", was.competition, event.competition)
        compare(where, event.id, "kickoff", local_time(was.kickoff, zone), local_time(event.kickoff, zone))
        compare(where, event.id, "status", was.status.value, event.status.value)
        for bet in BET_IDS:
            old, new = was.odds.get(bet), event.odds.get(bet)
            compare(where, event.id, f"odds {PICK_LABELS[bet]}", _amount(old), _amount(new))
    for event_id, (position, event) in live_events.items():
        if event_id not in draft_ids:
            where = f"event {event_id} ({event.fixture})"
            compare(where, event_id, "event", f"#{position}: {_event_line(event, zone)}", None)
    return changes
