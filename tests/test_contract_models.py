"""The contract's models written out: times in UTC whatever was written before, models built without validation."""

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ticketing.contract.models import PayoutRecord, Ticket, TicketEvent, ticket_event, trusted


def paid_at(moment: datetime) -> str:
    record = trusted(PayoutRecord, kind="payout", amount=Decimal("1.00"), paid_at=moment, till="t", shift_id=1)
    return record.model_dump()["paid_at"]


def test_a_moment_is_written_in_utc_whatever_moment_was_written_before():
    new_york = ZoneInfo("America/New_York")
    # 01:30 happens twice on the night the clock goes back: an hour apart, yet equal as Python compares them.
    first, second = datetime(2026, 11, 1, 1, 30, tzinfo=new_york), datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=new_york)
    assert (paid_at(first), paid_at(second)) == ("2026-11-01T05:30:00", "2026-11-01T06:30:00")
    now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert [paid_at(now), paid_at(now)] == ["2026-11-27T10:00:00"] * 2


def test_a_model_built_without_validation_refuses_a_field_it_does_not_have():
    with pytest.raises(TypeError, match="setlement"):
        trusted(Ticket, setlement=None)


def test_a_pick_made_for_a_sale_is_the_model_trusted_would_make():
    made = ticket_event(7, 102, Decimal("3.25"))
    expected = trusted(TicketEvent, id=7, bet=102, odds=Decimal("3.25"))
    assert (made, made.model_fields_set, made.model_dump_json()) == (
        expected,
        expected.model_fields_set,
        expected.model_dump_json(),
    )
