"""A sale that fails with an internal error fails alone: the rest of its group-commit batch commits in that one
transaction, without being rerun one by one, and the failed sale's own write (the claim of its signature) is undone
(issue 11). The batch is written in a handful of statements for all of its sales (issue 16)."""

import threading
from contextlib import contextmanager
from decimal import Decimal as D

from sqlalchemy import event

import ticketing.engine
import ticketing.selling.tickets
from tests.support import SITE_TILL, sample_request
from ticketing.access import replays
from ticketing.access.replays import SignedRequest
from ticketing.contract.models import TicketQuery
from ticketing.selling.group_commit import GroupCommitter

STAKES = ["25", "30", "77", "40", "50"]
"""The sale of 77 is the one that fails; the others share its batch."""


def sell_a_batch_behind_a_held_commit(engine) -> tuple[list, int]:
    """A first sale whose commit is held until the sales of `STAKES` are queued, so that they form one batch.
    Returns each sale's ticket or exception, and how many write transactions were opened in all."""
    write_transactions = []
    first_commit_started, first_commit_may_end = threading.Event(), threading.Event()

    def on_begin(conn):
        if conn.get_execution_options().get("write"):
            write_transactions.append(conn)

    def hold_the_first_commit(conn):
        if conn.get_execution_options().get("write") and not first_commit_started.is_set():
            first_commit_started.set()
            first_commit_may_end.wait(10)

    event.listen(engine.store.engine, "begin", on_begin)
    event.listen(engine.store.engine, "commit", hold_the_first_commit)
    first = engine.submit_ticket(SITE_TILL, sample_request())
    assert first_commit_started.wait(10)
    futures = [
        engine.submit_ticket(SITE_TILL, sample_request(stake=stake), signed=signed_as(stake)) for stake in STAKES
    ]
    first_commit_may_end.set()
    outcomes = [first.result(10)]
    for future in futures:
        try:
            outcomes.append(future.result(10))
        except Exception as error:
            outcomes.append(error)
    event.remove(engine.store.engine, "begin", on_begin)
    event.remove(engine.store.engine, "commit", hold_the_first_commit)
    return outcomes, len(write_transactions)


def signed_as(stake: str) -> SignedRequest:
    """A signature of its own for each sale (what the API passes once it has checked one)."""
    return SignedRequest(f"{int(stake):064x}", 2**40)


def claimed(engine, stake: str) -> bool:
    with engine.store.read() as conn:
        return replays.claimed_ticket(conn, "site", signed_as(stake)) is not None


def sold_codes(engine) -> set[str]:
    return {ticket.code for ticket in engine.list_tickets(SITE_TILL, TicketQuery(limit=100))}


def test_an_internal_error_in_one_sale_fails_it_alone_and_its_batch_commits_once(engine, monkeypatch):
    token = sample_request().token
    before = engine.balance(SITE_TILL, token)
    price_in_cents = ticketing.selling.tickets.price_in_cents

    def price_or_break(stake, *args):
        # After its signature was claimed in the batch: only taking that claim back lets it be sent again.
        if stake == D("77.00"):
            raise RuntimeError("a bug in one sale")
        return price_in_cents(stake, *args)

    monkeypatch.setattr(ticketing.selling.tickets, "price_in_cents", price_or_break)
    outcomes, write_transactions = sell_a_batch_behind_a_held_commit(engine)

    assert [type(o).__name__ for o in outcomes] == ["Ticket"] * 3 + ["RuntimeError"] + ["Ticket"] * 2
    assert write_transactions == 3, "the first sale, its batch, and the failed sale run again alone"
    assert engine.balance(SITE_TILL, token) == before - sum(D(stake) for stake in ["25", "25", "30", "40", "50"])
    assert sold_codes(engine) == {o.code for o in outcomes if not isinstance(o, Exception)}
    assert [claimed(engine, stake) for stake in STAKES] == [True, True, False, True, True]


def test_a_ticket_code_already_taken_is_drawn_again_within_its_batch(engine, monkeypatch):
    token = sample_request().token
    before = engine.balance(SITE_TILL, token)
    taken = engine.create_ticket(SITE_TILL, sample_request()).code
    new_code = ticketing.engine.new_ticket_code
    codes_given = []

    def a_taken_code_then_one_twice():
        codes_given.append(1)
        # The batch's third sale draws a stored code, its fourth the code the batch's first was given.
        if len(codes_given) == 4:
            return taken
        if len(codes_given) == 5:
            return first_of_batch[0]
        code = new_code()
        if len(codes_given) == 2:
            first_of_batch.append(code)
        return code

    first_of_batch: list[str] = []
    # Drawn by the ticket's builder, drawn again by the engine.
    monkeypatch.setattr(ticketing.selling.tickets, "new_ticket_code", a_taken_code_then_one_twice)
    monkeypatch.setattr(ticketing.engine, "new_ticket_code", a_taken_code_then_one_twice)
    outcomes, write_transactions = sell_a_batch_behind_a_held_commit(engine)

    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    assert write_transactions == 2, "the first sale and its batch, no sale run again alone"
    assert engine.balance(SITE_TILL, token) == before - D("25") - sum(D(stake) for stake in ["25", *STAKES])
    assert sold_codes(engine) == {taken} | {o.code for o in outcomes}
    assert len({o.code for o in outcomes} | {taken}) == len(outcomes) + 1


def test_when_the_batch_transaction_itself_fails_every_sale_is_run_again_alone():
    run_alone = []

    @contextmanager
    def transaction_whose_commit_fails():
        yield None
        raise OSError("disk full at commit")

    def alone(job: str) -> str:
        run_alone.append(job)
        return job.upper()

    committer = GroupCommitter(transaction_whose_commit_fails, lambda _conn, jobs: [job.upper() for job in jobs], alone)
    futures = [committer.submit(job) for job in ("a", "b", "c")]
    assert [future.result(10) for future in futures] == ["A", "B", "C"]
    committer.close()
    assert sorted(run_alone) == ["a", "b", "c"]
