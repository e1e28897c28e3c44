"""Reconciliation as pure rules: what each engine ticket should have done to the wallet, and every way it can differ."""

from datetime import UTC, datetime

from ticketing.wallets.reconcile import Expected, reconcile

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def ledger(*entries, states: dict[str, str]) -> dict:
    return {
        "tickets": [{"ticket_id": t, "state": s} for t, s in states.items()],
        "entries": [{"ticket_id": t, "action": a, "amount": n} for t, a, n in entries],
    }


def test_matching_sides_give_an_empty_report_whatever_happened_on_the_way():
    engine = {
        "won": ("AAAAAA", Expected(state="won", debited=2500, credited=9000)),
        "lost": ("CCCCCC", Expected(state="lost", debited=2500)),
        "cancelled": ("DDDDDD", Expected(state="refunded", debited=2500, refunded=2500)),
        "discarded": ("EEEEEE", Expected(state="discarded")),
        "never-reached": ("FFFFFF", Expected(state="discarded")),
    }
    wallet = ledger(
        ("won", "ticket_create", -2500),
        ("won", "ticket_win", 7000),
        ("won", "ticket_rollback", -7000),
        ("won", "ticket_win", 9000),
        ("lost", "ticket_create", -2500),
        ("lost", "ticket_lost", 0),
        ("cancelled", "ticket_create", -2500),
        ("cancelled", "ticket_refund", 2500),
        ("discarded", "ticket_create", -2500),
        ("discarded", "ticket_discard", 2500),
        states={"won": "won", "lost": "lost", "cancelled": "refunded", "discarded": "discarded"},
    )
    report = reconcile("site", NOW, engine, wallet, {})
    assert report.differences == []
    assert (report.engine.debited, report.engine.credited, report.engine.refunded) == (75, 90, 25)
    assert report.engine.debited == report.wallet.debited


def test_every_difference_is_listed_with_both_sides_and_what_is_still_on_its_way():
    engine = {
        "win-missing": ("AAAAAA", Expected(state="won", debited=2500, credited=9000)),
        "double-debit": ("CCCCCC", Expected(state="open", debited=2500)),
        "kept-stake": ("DDDDDD", Expected(state="discarded")),
        "unknown-to-wallet": ("EEEEEE", Expected(state="open", debited=1000)),
    }
    wallet = ledger(
        ("win-missing", "ticket_create", -2500),
        ("double-debit", "ticket_create", -2500),
        ("double-debit", "ticket_create", -2500),
        ("kept-stake", "ticket_create", -2500),
        ("stray", "ticket_create", -500),
        states={"win-missing": "open", "double-debit": "open", "kept-stake": "open", "stray": "open"},
    )
    report = reconcile("site", NOW, engine, wallet, {"win-missing": 2})
    found = {(d.ticket_id, d.field): (d.engine, d.wallet, d.undelivered) for d in report.differences}
    assert found == {
        ("win-missing", "state"): ("won", "open", 2),
        ("win-missing", "credited"): ("90.00", "0.00", 2),
        ("double-debit", "debited"): ("25.00", "50.00", 0),
        ("kept-stake", "state"): ("discarded", "open", 0),
        ("kept-stake", "debited"): ("0.00", "25.00", 0),
        ("unknown-to-wallet", "state"): ("open", None, 0),
        ("unknown-to-wallet", "debited"): ("10.00", "0.00", 0),
        ("stray", "ticket"): (None, "open", 0),
    }
