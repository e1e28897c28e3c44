"""Coupon states in the engine, on each backend: an upload is a draft no till sees or sells, publishing is a separate
step naming the reviewed version, a republish shows its changes and is refused after a sale, a coupon without
tickets is taken back to a draft, and every refusal writes nothing."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from tests.coupons.support import SMALL, all_tickets, coupon_rows, small_coupon
from tests.support import (
    RIVAL_ADMIN_ACTOR,
    SITE_ADMIN,
    SITE_FEED,
    SITE_TILL,
    FixedClock,
    add_rival,
    sample_request,
)
from ticketing.contract.errors import (
    CouponInUse,
    CouponMissing,
    CouponNotFound,
    CouponNotOpen,
    CouponRejected,
    DraftChanged,
    NotAllowed,
)
from ticketing.contract.models import CouponStatus, EventResult
from ticketing.coupons.models import SandboxSale

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def desk(engine):
    engine.clock = FixedClock(NOW)
    return engine


def sell(engine, coupon_id: str = SMALL, bets=(101, 101, 101, 101), stake: str = "20"):
    return engine.create_ticket(SITE_TILL, sample_request(coupon_id=coupon_id, stake=stake, bets=list(bets)))


def test_an_upload_is_a_draft_no_till_lists_reads_or_sells(desk):
    draft = desk.save_draft(SITE_ADMIN, small_coupon(NOW))
    assert draft.coupon.status == CouponStatus.DRAFT and draft.publishable and draft.live is None
    assert SMALL not in [c.id for c in desk.list_open_coupons(SITE_TILL)]
    with pytest.raises(CouponMissing):
        desk.get_coupon(SITE_TILL, SMALL)
    with pytest.raises(CouponNotFound):
        sell(desk)
    desk.clock = FixedClock(NOW + timedelta(days=2))
    closed = [c.id for c in desk.list_closed_coupons(SITE_ADMIN)]
    assert closed and all(c in ("455", "456", "457") for c in closed), "no draft, nor its sandbox, among them"
    assert [d.id for d in desk.list_drafts(SITE_ADMIN)] == [SMALL]
    assert all_tickets(desk.store) == []


def test_only_an_admin_makes_sees_or_tries_drafts(desk):
    desk.save_draft(SITE_ADMIN, small_coupon(NOW))
    for actor in (SITE_TILL, SITE_FEED):
        with pytest.raises(NotAllowed):
            desk.save_draft(actor, small_coupon(NOW, name="Changed"))
        with pytest.raises(NotAllowed):
            desk.get_draft(actor, SMALL)
        with pytest.raises(NotAllowed):
            desk.list_drafts(actor)
        with pytest.raises(NotAllowed):
            desk.sell_test_ticket(actor, SMALL, SandboxSale(stake=D(20), bets=[101] * 4))
        with pytest.raises(NotAllowed):
            desk.publish_draft(actor, SMALL, "0")
    assert desk.get_draft(SITE_ADMIN, SMALL).coupon.name == "Small QA coupon"


def test_a_draft_with_errors_is_refused_and_nothing_is_stored(desk):
    with pytest.raises(CouponRejected) as rejected:
        desk.save_draft(SITE_ADMIN, small_coupon(NOW, closes_at=(NOW - timedelta(hours=1)).isoformat()))
    assert rejected.value.details["problems"][0]["field"] == "closes_at"
    assert desk.list_drafts(SITE_ADMIN) == [] and SMALL not in coupon_rows(desk.store)


def test_a_draft_is_held_to_the_operators_cap_as_a_direct_publish_is(desk):
    """`POST /be/coupons` refused a cap above the operator's (114); saved as a draft and published, the same file
    went on sale with it, and the tills showed payouts the engine would not pay."""
    above_the_operators_cap = small_coupon(NOW) | {"max_payout": "500000000"}
    with pytest.raises(CouponRejected) as direct:
        desk.publish_coupon(SITE_ADMIN, above_the_operators_cap)
    with pytest.raises(CouponRejected) as drafted:
        desk.save_draft(SITE_ADMIN, above_the_operators_cap)
    assert drafted.value.details["problems"] == direct.value.details["problems"]
    assert desk.list_drafts(SITE_ADMIN) == [] and SMALL not in coupon_rows(desk.store)


def test_publishing_the_reviewed_version_puts_it_on_sale_and_clears_the_draft_and_its_sandbox(desk):
    draft = desk.save_draft(SITE_ADMIN, small_coupon(NOW))
    desk.sell_test_ticket(SITE_ADMIN, SMALL, SandboxSale(stake=D(20), bets=[101] * 4))
    coupon = desk.publish_draft(SITE_ADMIN, SMALL, draft.version)
    assert coupon.status == CouponStatus.OPEN and coupon.bonus_prizes == {3: D("200.00")}
    assert SMALL in [c.id for c in desk.list_open_coupons(SITE_TILL)]
    assert sell(desk).coupon_id == SMALL
    with pytest.raises(CouponMissing):
        desk.get_draft(SITE_ADMIN, SMALL)
    assert [t.test for t in all_tickets(desk.store)] == [False], "the test ticket went with the sandbox"
    assert coupon_rows(desk.store) == {"455": "open", "456": "open", "457": "open", SMALL: "open"}


def test_a_draft_uploaded_again_since_it_was_reviewed_is_not_published(desk):
    reviewed = desk.save_draft(SITE_ADMIN, small_coupon(NOW))
    newer = desk.save_draft(SITE_ADMIN, small_coupon(NOW, max_payout="400.00"))
    assert newer.version != reviewed.version
    with pytest.raises(DraftChanged) as changed:
        desk.publish_draft(SITE_ADMIN, SMALL, reviewed.version)
    assert changed.value.details["version"] == newer.version
    assert SMALL not in [c.id for c in desk.list_open_coupons(SITE_TILL)]
    assert desk.publish_draft(SITE_ADMIN, SMALL, newer.version).max_payout == D("400.00")


def test_a_draft_past_its_deadline_is_no_longer_publishable(desk):
    draft = desk.save_draft(SITE_ADMIN, small_coupon(NOW))
    desk.clock = FixedClock(NOW + timedelta(days=2))
    assert not desk.get_draft(SITE_ADMIN, SMALL).publishable
    with pytest.raises(CouponRejected):
        desk.publish_draft(SITE_ADMIN, SMALL, draft.version)
    assert SMALL in [d.id for d in desk.list_drafts(SITE_ADMIN)]


def test_a_republish_before_any_sale_shows_its_changes_event_by_event(desk):
    first = desk.save_draft(SITE_ADMIN, small_coupon(NOW))
    desk.publish_draft(SITE_ADMIN, SMALL, first.version)
    raw = small_coupon(NOW, name="Small QA coupon, revised")
    raw["events"][1]["odds"]["102"] = "3.45"
    raw["events"][2], raw["events"][3] = raw["events"][3], raw["events"][2]
    dropped = raw["events"].pop()
    raw["events"].append(dropped | {"id": 710009, "home": "New Home"})
    draft = desk.save_draft(SITE_ADMIN, raw)
    assert draft.live is not None and draft.publishable
    changes = {(c.event_id, c.field): (c.live, c.draft) for c in draft.changes}
    assert changes[(None, "name")] == ("Small QA coupon", "Small QA coupon, revised")
    assert changes[(710002, "odds X")] == ("3.30", "3.45")
    assert changes[(710004, "position")] == ("#4", "#3")
    assert changes[(710003, "event")][1] is None and changes[(710009, "event")][0] is None
    assert "added as #4: New Home v Away 2" in changes[(710009, "event")][1]
    assert len(draft.changes) == 5
    desk.publish_draft(SITE_ADMIN, SMALL, draft.version)
    live = desk.get_coupon(SITE_TILL, SMALL)
    assert [e.id for e in live.events] == [710001, 710002, 710004, 710009] and live.events[1].odds[102] == D("3.45")


def test_a_republish_after_a_sale_is_refused_and_the_coupon_on_sale_stays(desk):
    first = desk.save_draft(SITE_ADMIN, small_coupon(NOW))
    desk.publish_draft(SITE_ADMIN, SMALL, first.version)
    draft = desk.save_draft(SITE_ADMIN, small_coupon(NOW, max_payout="400.00"))
    sell(desk)
    assert not desk.get_draft(SITE_ADMIN, SMALL).publishable
    assert "already has tickets" in desk.get_draft(SITE_ADMIN, SMALL).refusal
    with pytest.raises(CouponInUse):
        desk.publish_draft(SITE_ADMIN, SMALL, draft.version)
    with pytest.raises(CouponInUse):
        desk.save_draft(SITE_ADMIN, small_coupon(NOW, max_payout="300.00"))
    assert desk.get_coupon(SITE_TILL, SMALL).max_payout == D("500.00")


def test_a_coupon_without_tickets_is_withdrawn_to_a_draft_and_comes_back_when_published(desk):
    first = desk.save_draft(SITE_ADMIN, small_coupon(NOW))
    desk.publish_draft(SITE_ADMIN, SMALL, first.version)
    draft = desk.withdraw_coupon(SITE_ADMIN, SMALL)
    assert draft.coupon.status == CouponStatus.DRAFT and draft.live is None
    assert draft.coupon.bonus_prizes == {3: D("200.00")} and len(draft.coupon.events) == 4
    assert SMALL not in [c.id for c in desk.list_open_coupons(SITE_TILL)]
    with pytest.raises(CouponNotFound):
        sell(desk)
    desk.publish_draft(SITE_ADMIN, SMALL, draft.version)
    assert sell(desk).coupon_id == SMALL


def test_withdrawing_a_coupon_with_tickets_is_refused(desk):
    desk.publish_draft(SITE_ADMIN, SMALL, desk.save_draft(SITE_ADMIN, small_coupon(NOW)).version)
    sell(desk)
    with pytest.raises(CouponInUse):
        desk.withdraw_coupon(SITE_ADMIN, SMALL)
    assert SMALL in [c.id for c in desk.list_open_coupons(SITE_TILL)]
    assert desk.list_drafts(SITE_ADMIN) == []


def test_withdrawing_a_coupon_with_results_is_refused(desk):
    desk.clock = FixedClock(NOW + timedelta(days=5))
    event = desk.get_coupon(SITE_TILL, "455").events[0].id
    desk.enter_result(SITE_ADMIN, "455", event, EventResult.HOME)
    with pytest.raises(CouponNotOpen):
        desk.withdraw_coupon(SITE_ADMIN, "455")
    assert desk.get_coupon(SITE_TILL, "455").id == "455" and desk.list_drafts(SITE_ADMIN) == []


def test_another_operator_can_neither_see_a_draft_nor_take_its_id(desk):
    add_rival(desk.store)
    desk.save_draft(SITE_ADMIN, small_coupon(NOW))
    with pytest.raises(CouponMissing):
        desk.get_draft(RIVAL_ADMIN_ACTOR, SMALL)
    with pytest.raises(CouponMissing):
        desk.sandbox(RIVAL_ADMIN_ACTOR, SMALL)
    assert desk.list_drafts(RIVAL_ADMIN_ACTOR) == []
    with pytest.raises(NotAllowed):
        desk.save_draft(RIVAL_ADMIN_ACTOR, small_coupon(NOW))
    with pytest.raises(NotAllowed):
        desk.publish_coupon(RIVAL_ADMIN_ACTOR, small_coupon(NOW))
    assert desk.get_draft(SITE_ADMIN, SMALL).updated_by == SITE_ADMIN.credential
