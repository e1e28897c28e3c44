"""Publishing a checked coupon (embedded and over HTTP), selling on it, and the shift report's figures.

The sample coupons are dated relative to a clock: a fixed one for the embedded engine, now for the HTTP server (it
reads the real clock), so no outcome depends on the day of the run."""

import io
from datetime import UTC, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from tests.support import SITE_ADMIN, SITE_TILL, FixedClock, sample_coupon, sample_request
from ticketing.client import TicketingClient
from ticketing.contract.errors import CouponInUse, CouponNotOpen, CouponRejected
from ticketing.contract.models import CouponStatus, EventResult, TicketQuery
from ticketing.demo.data import PLAYER_TOKEN
from ticketing.settings import DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET, DEMO_SITE_SECRET
from ticketing.shifts.report import (
    filter_frame,
    from_spreadsheet_text,
    period_bounds,
    sales_per_hour,
    shift_totals,
    tickets_frame,
    to_csv,
)

ZONE = ZoneInfo("Africa/Nairobi")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_publish_good_sample_over_http_and_sell_on_it(api_url):
    with (
        TicketingClient(api_url, "site", DEMO_ADMIN_SECRET, DEMO_ADMIN_KEY_ID) as admin,
        TicketingClient(api_url, "site", DEMO_SITE_SECRET) as till,
    ):
        coupon = admin.publish_coupon(sample_coupon("good_coupon.json", datetime.now(UTC)))
        assert coupon.id == "JP-2099-20" and len(coupon.events) == 13
        assert "JP-2099-20" in [c.id for c in till.list_open_coupons()]
        ticket = till.create_ticket(sample_request(coupon_id="JP-2099-20", stake=50, bets=[102] * 13))
        assert ticket.coupon_id == "JP-2099-20" and ticket.events[0].odds == D("3.50")
        with pytest.raises(CouponInUse):
            admin.publish_coupon(sample_coupon("good_coupon.json", datetime.now(UTC)))


def test_publishing_a_broken_coupon_lists_its_errors_and_stores_nothing(api_url):
    with TicketingClient(api_url, "site", DEMO_ADMIN_SECRET, DEMO_ADMIN_KEY_ID) as admin:
        with pytest.raises(CouponRejected) as rejected:
            admin.publish_coupon(sample_coupon("broken_coupon.json", datetime.now(UTC)))
        assert len(rejected.value.details["problems"]) == 14
        assert "JP-BROKEN" not in [c.id for c in admin.list_open_coupons()]


def test_republish_before_any_sale_replaces_the_coupon(engine):
    engine.clock = FixedClock(NOW)
    raw = sample_coupon("good_coupon.json", NOW)
    engine.publish_coupon(SITE_ADMIN, raw)
    raw["events"][0]["odds"]["101"] = D("2.15")
    assert engine.publish_coupon(SITE_ADMIN, raw).events[0].odds[101] == D("2.15")
    assert engine.get_coupon(SITE_TILL, "JP-2099-20").events[0].odds[101] == D("2.15")


def test_a_cancelled_or_resulted_coupon_is_never_published_again(engine):
    """Reopened over its cancellation it took stakes nobody could settle or refund; over its results, bets on known
    outcomes. Both are refused as for a draft (151), tickets or not."""
    engine.clock = FixedClock(NOW)
    raw = sample_coupon("good_coupon.json", NOW)
    cancelled = engine.publish_coupon(SITE_ADMIN, raw)
    engine.cancel_coupon(SITE_ADMIN, cancelled.id)
    with pytest.raises(CouponNotOpen):
        engine.publish_coupon(SITE_ADMIN, raw)
    assert engine.settlement(SITE_ADMIN, cancelled.id).status == CouponStatus.CANCELLED

    raw["id"] = "JP-2099-21"
    resulted = engine.publish_coupon(SITE_ADMIN, raw)
    engine.clock = FixedClock(resulted.closes_at)
    engine.enter_result(SITE_ADMIN, resulted.id, resulted.events[0].id, EventResult.HOME)
    engine.clock = FixedClock(NOW)
    with pytest.raises(CouponNotOpen):
        engine.publish_coupon(SITE_ADMIN, raw)
    assert engine.settlement(SITE_ADMIN, resulted.id).results_known == 1


def sell_some(engine) -> list:
    sold = [engine.create_ticket(SITE_TILL, sample_request(stake=stake)) for stake in ("25", "30.50", "99.99")]
    player = sample_request(token=PLAYER_TOKEN, stake="60", coupon_id="456", bets=[103] * 13)
    sold.append(engine.create_ticket(SITE_TILL, player))
    return sold


def test_shift_totals_equal_the_sum_of_the_stored_tickets(engine):
    sell_some(engine)
    stored = engine.list_tickets(SITE_TILL, TicketQuery(operator="site", limit=10000))
    totals = shift_totals(tickets_frame(stored, ZONE))
    assert totals.tickets == 4
    assert totals.stakes == sum((t.stake for t in stored), D(0)) == D("215.49")
    assert totals.payouts == sum((t.payout for t in stored), D(0))
    assert totals.tax == sum((t.tax for t in stored), D(0))
    only_456 = filter_frame(tickets_frame(stored, ZONE), [], [], ["456"])
    assert shift_totals(only_456).stakes == D("60.00")
    # A cancelled ticket is listed and counted, but its refunded stake and the payout it can no longer win are in
    # no sum.
    cancelled = engine.cancel_ticket(SITE_TILL, stored[0].code)
    after = shift_totals(tickets_frame(engine.list_tickets(SITE_TILL, TicketQuery(limit=10000)), ZONE))
    assert (after.tickets, after.cancelled) == (4, 1)
    assert after.stakes == totals.stakes - cancelled.stake and after.payouts == totals.payouts - cancelled.payout
    today = datetime.now(ZONE).date()
    assert sales_per_hour(tickets_frame(stored, ZONE), *period_bounds(today, today, ZONE), ZONE)["tickets"].sum() == 4


def test_sales_per_hour_shows_every_hour_of_the_shop_day_empty_ones_included(engine):
    """A day seen from Nairobi: the tickets sold at 09:xx and 11:xx local time, 10:00 shown with none."""
    when = datetime(2026, 3, 2, 23, 30, tzinfo=ZONE)
    engine.clock = lambda: datetime(2026, 3, 2, 6, 5, tzinfo=UTC)  # 09:05 in Nairobi
    engine.create_ticket(SITE_TILL, sample_request(stake="25"))
    engine.clock = lambda: datetime(2026, 3, 2, 8, 59, tzinfo=UTC)  # 11:59 in Nairobi
    engine.create_ticket(SITE_TILL, sample_request(stake="30"))
    frame = tickets_frame(engine.list_tickets(SITE_TILL, TicketQuery(limit=100)), ZONE)
    per_hour = sales_per_hour(frame, *period_bounds(when.date(), when.date(), ZONE), ZONE)
    assert list(per_hour["hour"]) == [f"{h:02d}:00" for h in range(24)]
    assert list(per_hour["tickets"]) == [{9: 1, 11: 1}.get(h, 0) for h in range(24)]


def test_csv_export_round_trips_through_pandas_to_the_same_rows(engine):
    sell_some(engine)
    stored = engine.list_tickets(SITE_TILL, TicketQuery(limit=100))
    frame = filter_frame(tickets_frame(stored, ZONE), ["new"], [], ["455"])
    back = pd.read_csv(io.BytesIO(to_csv(frame)), dtype=str, keep_default_na=False)
    assert list(back.columns) == list(frame.columns)
    assert len(back) == len(frame) == 3
    for (_, original), (_, read) in zip(frame.iterrows(), back.iterrows(), strict=True):
        assert read["code"] == f'="{original["code"]}"' and read["user_id"] == f'="{original["user_id"]}"'
        assert from_spreadsheet_text(read["code"]) == original["code"]
        assert from_spreadsheet_text(read["id"]) == original["id"]
        assert D(read["stake"]) == original["stake"] and D(read["payout"]) == original["payout"]
        assert D(read["tax"]) == original["tax"] and D(read["net_payout"]) == original["net_payout"]
        assert pd.Timestamp(read["created"]) == original["created"]
        assert read["picks"] == original["picks"] and read["approved"] == str(original["approved"])
