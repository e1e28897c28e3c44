"""A sale that fails with an internal error fails alone: the rest of its group-commit batch commits in that one
transaction, without being rerun one by one, and the failed sale's own writes are undone (issue 11)."""

import threading
from contextlib import contextmanager
from decimal import Decimal as D

from sqlalchemy import event

import ticketing.engine
from tests.support import SITE_TILL, sample_request
from ticketing.group_commit import GroupCommitter
from ticketing.models import TicketQuery

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
    futures = [engine.submit_ticket(SITE_TILL, sample_request(stake=stake)) for stake in STAKES]
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


def sold_codes(engine) -> set[str]:
    return {ticket.code for ticket in engine.list_tickets(SITE_TILL, TicketQuery(limit=100))}


def test_an_internal_error_in_one_sale_fails_it_alone_and_its_batch_commits_once(engine, monkeypatch):
    store, token = engine.store, sample_request().token
    before = engine.balance(token)
    insert_ticket = store.insert_ticket

    def insert_or_break(conn, ticket, *args):
        # After the sale's debit: only undoing that sale's own writes keeps the balance right.
        if ticket.stake == D("77.00"):
            raise RuntimeError("a bug in one sale")
        return insert_ticket(conn, ticket, *args)

    monkeypatch.setattr(store, "insert_ticket", insert_or_break)
    outcomes, write_transactions = sell_a_batch_behind_a_held_commit(engine)

    assert [type(o).__name__ for o in outcomes] == ["Ticket"] * 3 + ["RuntimeError"] + ["Ticket"] * 2
    assert write_transactions == 3, "the first sale, its batch, and the failed sale run again alone"
    assert engine.balance(token) == before - sum(D(stake) for stake in ["25", "25", "30", "40", "50"])
    assert sold_codes(engine) == {o.code for o in outcomes if not isinstance(o, Exception)}


def test_a_sale_that_loses_a_race_in_a_batch_is_sold_alone_and_the_batch_commits_once(engine, monkeypatch):
    """On PostgreSQL the lost race aborts the transaction: the savepoint brings the rest of the batch back."""
    token = sample_request().token
    before = engine.balance(token)
    taken = engine.create_ticket(SITE_TILL, sample_request()).code
    new_code = ticketing.engine.new_ticket_code
    codes_given = []

    def a_taken_code_once():
        codes_given.append(1)
        return taken if len(codes_given) == 4 else new_code()

    monkeypatch.setattr(ticketing.engine, "new_ticket_code", a_taken_code_once)
    outcomes, write_transactions = sell_a_batch_behind_a_held_commit(engine)

    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    assert write_transactions == 3, "the first sale, its batch, and the sale that lost the race run again alone"
    assert engine.balance(token) == before - D("25") - sum(D(stake) for stake in ["25", *STAKES])
    assert sold_codes(engine) == {taken} | {o.code for o in outcomes}


def test_when_the_batch_transaction_itself_fails_every_sale_is_run_again_alone():
    run_alone = []

    @contextmanager
    def transaction_whose_commit_fails():
        yield None
        raise OSError("disk full at commit")

    def alone(job: str) -> str:
        run_alone.append(job)
        return job.upper()

    committer = GroupCommitter(transaction_whose_commit_fails, lambda _conn, job: job.upper(), alone)
    futures = [committer.submit(job) for job in ("a", "b", "c")]
    assert [future.result(10) for future in futures] == ["A", "B", "C"]
    committer.close()
    assert sorted(run_alone) == ["a", "b", "c"]
