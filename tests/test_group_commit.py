"""Group commit: sales queued while a transaction commits are written together and answered after one commit;
a refused sale does not disturb its batch; a failing one is run again alone once the rest of its batch commits."""

import asyncio
import dataclasses
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal as D

import psycopg
import pytest
from sqlalchemy import event, func, select, text, update

from tests.support import SITE_FEED, SITE_TILL, sample_request
from ticketing.access.replays import SignedRequest
from ticketing.contract.errors import (
    EventNotAvailable,
    InsufficientBalance,
    StakeOutOfLimits,
    TicketingError,
)
from ticketing.contract.models import EventUpdate, TicketQuery
from ticketing.engine import TicketEngine
from ticketing.selling.group_commit import AGAIN, GroupCommitter
from ticketing.selling.queries import SaleStatements
from ticketing.storage import Account, Store, accounts, request_signatures, ticket_events


class Ledger:
    """A fake database: a transaction's writes become visible in `committed` only when it commits."""

    def __init__(self):
        self.committed: list[str] = []
        self.commits = 0
        self.alone: list[str] = []
        self.first_started = threading.Event()
        self.first_may_commit = threading.Event()

    @contextmanager
    def transaction(self):
        pending: list[str] = []
        yield pending
        if self.commits == 0:
            self.first_may_commit.wait(5)
        self.committed.extend(pending)
        self.commits += 1

    def run_one(self, pending: list[str], job: str) -> str:
        self.first_started.set()
        if job.startswith("refused"):
            raise StakeOutOfLimits(job)
        if job.startswith("raced") and not self.alone:
            raise RuntimeError("lost a race: fine when run again")
        if job.startswith("broken"):
            raise RuntimeError("a bug in one sale")
        pending.append(job)
        return job.upper()

    def run_batch(self, pending: list[str], jobs: list[str]) -> list:
        """As the engine writes a batch: a refusal is that job's outcome, a failure makes it run again alone."""
        outcomes = []
        for job in jobs:
            try:
                outcomes.append(self.run_one(pending, job))
            except TicketingError as refused:
                outcomes.append(refused)
            except RuntimeError:
                outcomes.append(AGAIN)
        return outcomes

    def run_alone(self, job: str) -> str:
        self.alone.append(job)
        with self.transaction() as pending:
            return self.run_one(pending, job)


def run_batch_behind_a_slow_commit(ledger: Ledger, jobs: list[str]) -> list:
    """The first job's commit is held until every other job is queued, so they form one batch."""
    committer = GroupCommitter(ledger.transaction, ledger.run_batch, ledger.run_alone)
    first = committer.submit("first")
    assert ledger.first_started.wait(5)
    futures = [committer.submit(job) for job in jobs]
    ledger.first_may_commit.set()
    outcomes = [first.result(5)]
    for future in futures:
        try:
            outcomes.append(future.result(5))
        except Exception as error:
            outcomes.append(error)
    committer.close()
    return outcomes


class LedgerWhoseSecondCommitFails(Ledger):
    """The batch's commit itself fails (a lost connection, a full disk): nothing of it was written."""

    @contextmanager
    def transaction(self):
        pending: list[str] = []
        yield pending
        if self.commits == 0:
            self.first_may_commit.wait(5)
        if self.commits == 1 and not self.alone:
            raise ConnectionError("the commit did not go through")
        self.committed.extend(pending)
        self.commits += 1


def test_a_batch_whose_commit_fails_is_written_again_sale_by_sale():
    ledger = LedgerWhoseSecondCommitFails()
    outcomes = run_batch_behind_a_slow_commit(ledger, ["a", "b", "c"])
    assert outcomes == ["FIRST", "A", "B", "C"]
    assert ledger.alone == ["a", "b", "c"]
    assert ledger.committed == ["first", "a", "b", "c"]


def test_sales_queued_during_a_commit_share_the_next_commit():
    ledger = Ledger()
    outcomes = run_batch_behind_a_slow_commit(ledger, [f"sale-{n}" for n in range(10)])
    assert outcomes == ["FIRST"] + [f"SALE-{n}" for n in range(10)]
    assert ledger.commits == 2
    assert ledger.committed == ["first"] + [f"sale-{n}" for n in range(10)]


def test_a_refused_sale_leaves_the_rest_of_its_batch_alone():
    ledger = Ledger()
    outcomes = run_batch_behind_a_slow_commit(ledger, ["a", "refused-b", "c"])
    assert outcomes[1] == "A" and outcomes[3] == "C"
    assert isinstance(outcomes[2], StakeOutOfLimits)
    assert ledger.committed == ["first", "a", "c"]
    assert ledger.alone == []


def test_a_failing_sale_is_rerun_alone_after_the_rest_of_its_batch_commits():
    ledger = Ledger()
    outcomes = run_batch_behind_a_slow_commit(ledger, ["a", "raced-b", "c"])
    assert outcomes[1:] == ["A", "RACED-B", "C"]
    assert ledger.alone == ["raced-b"]
    assert ledger.committed == ["first", "a", "c", "raced-b"]


def test_a_broken_sale_fails_alone():
    ledger = Ledger()
    outcomes = run_batch_behind_a_slow_commit(ledger, ["a", "broken-b", "c"])
    assert outcomes[1] == "A" and outcomes[3] == "C"
    assert isinstance(outcomes[2], RuntimeError)
    assert ledger.committed == ["first", "a", "c"]


def test_close_finishes_the_queued_sales():
    ledger = Ledger()
    ledger.first_may_commit.set()
    committer = GroupCommitter(ledger.transaction, ledger.run_batch, ledger.run_alone)
    futures = [committer.submit(f"sale-{n}") for n in range(20)]
    committer.close()
    assert [f.result(0) for f in futures] == [f"SALE-{n}" for n in range(20)]


def test_concurrent_sales_on_the_engine_take_fewer_commits_than_tickets(engine):
    commits = []
    event.listen(engine.store.engine, "commit", lambda _conn: commits.append(1))
    with ThreadPoolExecutor(8) as pool:
        tickets = list(pool.map(lambda _: engine.create_ticket(SITE_TILL, sample_request()), range(200)))
    assert len({t.code for t in tickets}) == 200
    assert len(commits) < 200
    assert engine.balance(SITE_TILL, sample_request().token) == D("10000000.00") - 200 * D("25.00")


def test_a_batch_with_more_rows_than_one_statement_takes_writes_them_all(engine, monkeypatch):
    """The batch's rows go in as many statements as their parameters need (`MAX_PARAMETERS`, lowered here so that a
    batch of 7-event tickets needs several for its tickets, picks and stakes alike)."""
    monkeypatch.setattr("ticketing.selling.queries.MAX_PARAMETERS", 60)
    commits = []
    event.listen(engine.store.engine, "commit", lambda _conn: commits.append(1))
    with ThreadPoolExecutor(8) as pool:
        tickets = list(pool.map(lambda _: engine.create_ticket(SITE_TILL, sample_request()), range(60)))
    assert len(commits) < 60, "the sales were not batched: this test proves nothing"
    stored = [engine.get_ticket(SITE_TILL, t.id) for t in tickets]
    assert [t.events for t in stored] == [t.events for t in tickets] and all(len(t.events) == 7 for t in stored)
    assert engine.balance(SITE_TILL, sample_request().token) == D("10000000.00") - 60 * D("25.00")


def test_the_writers_connection_lost_between_batches_loses_no_sale(engine):
    """The writer keeps its connection between batches (`Store.batch_write`); when the database ends it, the next
    batch fails, its sales are written alone, and the batches after it connect again."""
    if engine.store.is_sqlite:
        pytest.skip("a server-side disconnect is PostgreSQL's")
    engine.create_ticket(SITE_TILL, sample_request())
    held = engine.store._batch_connection
    backend = held.connection.driver_connection.info.backend_pid
    with engine.store.engine.connect() as admin:
        admin.exec_driver_sql(f"SELECT pg_terminate_backend({backend})")
    before = engine.balance(SITE_TILL, sample_request().token)
    sold = [engine.create_ticket(SITE_TILL, sample_request()) for _ in range(3)]
    assert all(engine.get_ticket(SITE_TILL, t.id).code == t.code for t in sold)
    assert engine.balance(SITE_TILL, sample_request().token) == before - 3 * D("25.00")
    assert not held.invalidated, "the kept connection connected again"


class Abandoned(Exception):
    pass


def test_everything_a_batch_writes_is_one_transaction(engine):
    """The batch writer's connection sends its BEGIN with its first statement (on PostgreSQL it is in autocommit
    mode, `Store.batch_write`): a statement through SQLAlchemy, then the sale's pipelined reads and its writes, all
    go when the batch fails."""
    engine.create_ticket(SITE_TILL, sample_request())  # the writer's connection made, and its first prune done
    before = engine.balance(SITE_TILL, sample_request().token)
    statements, engine_store = engine.sales, engine.store
    with pytest.raises(Abandoned), engine_store.batch_write() as conn:
        conn.execute(update(accounts).values(balance_cents=accounts.c.balance_cents + 100))
        reads = statements.read_ahead(
            conn, keys=[], claims=[("site", "f" * 64, 2**40, "T1")], coupons=[], tokens=[], codes=["ABCDEFGHJKLM"]
        )
        assert reads.new_claims == {("site", "f" * 64)}
        raise Abandoned
    with engine_store.read() as conn:
        assert conn.execute(select(request_signatures).where(request_signatures.c.signature == "f" * 64)).all() == []
    assert engine.balance(SITE_TILL, sample_request().token) == before


def test_a_batch_that_fails_after_its_writes_leaves_none_of_them(engine, monkeypatch):
    """Sales whose batch fails at its last statement before the commit are written again alone (here failing
    again): no ticket, no debit, no claim stays of either attempt."""
    engine.create_ticket(SITE_TILL, sample_request())
    before, mark = engine.balance(SITE_TILL, sample_request().token), "?" if engine.store.is_sqlite else "%s"
    # The batch's last statement before its commit, the debit, fails: the claim, the tickets and picks before it go.
    monkeypatch.setattr(engine.sales, "debit", f"UPDATE no_such_table SET a = {mark}, b = {mark}, c = {mark}")
    with pytest.raises(Exception, match="no_such_table|no such table"):
        engine.create_ticket(SITE_TILL, sample_request(), signed=SignedRequest(signature="e" * 64, expires=2**40))
    monkeypatch.undo()
    assert engine.balance(SITE_TILL, sample_request().token) == before
    assert len(engine.list_tickets(SITE_TILL, TicketQuery())) == 1
    with engine.store.read() as conn:
        assert conn.execute(select(request_signatures).where(request_signatures.c.signature == "e" * 64)).all() == []


def test_a_batch_whose_insert_fails_halfway_keeps_none_of_its_rows(engine, monkeypatch):
    """A multi-row insert that a constraint stops at a later row (here the picks' last row repeats the first's key)
    keeps none of its earlier rows, nor the ticket before them: on SQLite the inserts are OR FAIL, which leaves the
    statement's earlier rows to the batch's rollback (no statement journal), and that rollback follows."""
    engine.create_ticket(SITE_TILL, sample_request())
    before = engine.balance(SITE_TILL, sample_request().token)
    real_rows = engine.sales.ticket_event_rows
    monkeypatch.setattr(engine.sales, "ticket_event_rows", lambda ticket: [*real_rows(ticket), real_rows(ticket)[0]])
    with pytest.raises(Exception, match="UNIQUE|unique|duplicate"):
        engine.create_ticket(SITE_TILL, sample_request(), signed=SignedRequest(signature="d" * 64, expires=2**40))
    monkeypatch.undo()
    assert engine.balance(SITE_TILL, sample_request().token) == before
    assert len(engine.list_tickets(SITE_TILL, TicketQuery())) == 1
    with engine.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(ticket_events)).scalar() == len(
            sample_request().bets or sample_request().events
        ), "the failed statement's earlier picks stayed"
        assert conn.execute(select(request_signatures).where(request_signatures.c.signature == "d" * 64)).all() == []


def test_a_batch_whose_transaction_sqlite_ended_writes_nothing_and_its_sale_is_made_alone(engine, monkeypatch):
    """SQLite ends a transaction by itself after an I/O error, a full disk or no memory (here: rolled back under the
    batch after its reads). The batch's writes must not then commit one by one, a ticket without its picks when the
    picks' insert fails after it (here, once): the batch writes nothing, and its sale is made again alone, whole."""
    if not engine.store.is_sqlite:
        pytest.skip("SQLite's own rollback; PostgreSQL's pipeline sends its BEGIN whenever none is open")
    engine.create_ticket(SITE_TILL, sample_request())
    real_read_ahead, real_rows, done = engine.sales.read_ahead, engine.sales.ticket_event_rows, set()

    def reads_then_the_transaction_ends(conn, **wanted):
        reads = real_read_ahead(conn, **wanted)
        if "ended" not in done:
            done.add("ended")
            conn.connection.driver_connection.rollback()
        return reads

    def picks_failing_once(ticket):
        rows = real_rows(ticket)
        if "failed" not in done:
            done.add("failed")
            return [*rows, rows[0]]
        return rows

    monkeypatch.setattr(engine.sales, "read_ahead", reads_then_the_transaction_ends)
    monkeypatch.setattr(engine.sales, "ticket_event_rows", picks_failing_once)
    engine.create_ticket(SITE_TILL, sample_request())
    monkeypatch.undo()
    assert done == {"ended", "failed"}, "the batch's attempt did not run as staged: proves nothing"
    sold = {ticket.id for ticket in engine.list_tickets(SITE_TILL, TicketQuery())}
    with engine.store.read() as conn:
        picked = dict(conn.execute(select(ticket_events.c.ticket_id, func.count()).group_by("ticket_id")).all())
    assert len(sold) == 2, "a ticket of the failed batch's attempt stayed"
    assert picked.keys() == sold and len(set(picked.values())) == 1, "a ticket without all its picks"


def test_a_debit_beyond_the_balance_is_refused_by_the_database_too(engine, monkeypatch):
    """The debit's own guard, the balance check's second line: should the batch's read of a balance be wrong (here it
    is inflated), the write refuses and the batch commits nothing, on PostgreSQL with its COMMIT already sent in the
    same pipeline."""
    token = sample_request().token
    with engine.store.write() as conn:
        conn.execute(update(accounts).values(balance_cents=10_000))
    before, real_read_ahead = engine.balance(SITE_TILL, token), engine.sales.read_ahead

    def inflated_balances(conn, **wanted):
        reads = real_read_ahead(conn, **wanted)
        return dataclasses.replace(reads, balances={t: cents + 10**12 for t, cents in reads.balances.items()})

    monkeypatch.setattr(engine.sales, "read_ahead", inflated_balances)
    with pytest.raises(RuntimeError) if engine.store.is_sqlite else pytest.raises(psycopg.errors.DivisionByZero):
        engine.create_ticket(SITE_TILL, sample_request(stake="200.00"))
    monkeypatch.undo()
    assert engine.balance(SITE_TILL, token) == before
    assert engine.list_tickets(SITE_TILL, TicketQuery()) == []


def test_the_batchs_searches_of_growing_tables_are_never_prepared_on_postgresql(engine):
    """A prepared statement may keep, until the next ANALYZE, a plan PostgreSQL made while the table was small: a
    sequential scan of every ticket. The batch's searches of tickets and claims are planned every time; its other
    statements are prepared (`PgPipeline`)."""
    if engine.store.is_sqlite:
        pytest.skip("PostgreSQL's plan cache")
    for n in range(8):
        engine.create_ticket(SITE_TILL, sample_request(), idempotency_key=f"k{n}")
        engine.create_ticket(SITE_TILL, sample_request(), idempotency_key=f"k{n}")  # a retry: its key is found
        replayed = SignedRequest(signature=f"{n:0>64}", expires=2**40)
        first = engine.create_ticket(SITE_TILL, sample_request(), signed=replayed)
        assert engine.create_ticket(SITE_TILL, sample_request(), signed=replayed).id == first.id  # claims read back
    raw = engine.store._batch_connection.connection.driver_connection
    prepared = [row[0] for row in raw.execute("SELECT statement FROM pg_prepared_statements").fetchall()]
    raw.rollback()
    assert any("INSERT INTO tickets" in statement for statement in prepared), "nothing was prepared: proves nothing"
    searches = ("SELECT code FROM tickets", "SELECT operator, idempotency_key", "SELECT operator, signature")
    assert [s for s in prepared if s.startswith(searches)] == []


def test_a_batch_overtaken_by_another_debit_is_decided_alone_on_the_locked_balance(engine, monkeypatch):
    """A batch reads balances unlocked (two workers' writers would otherwise take turns on a shop's account). Should
    another writer's debit come between that read and the batch's own (here: the batch's read is inflated), the
    debit's guard fails the batch, and its sale is decided alone on the balance read locked: refused in words."""
    token = sample_request().token
    with engine.store.write() as conn:
        conn.execute(update(accounts).values(balance_cents=10_000))
    real_read_ahead, locked = engine.sales.read_ahead, []

    def stale_for_batches(conn, **wanted):
        reads = real_read_ahead(conn, **wanted)
        locked.append(wanted["lock_balances"])
        if wanted["lock_balances"]:
            return reads
        return dataclasses.replace(reads, balances={t: cents + 10**12 for t, cents in reads.balances.items()})

    monkeypatch.setattr(engine.sales, "read_ahead", stale_for_batches)
    with pytest.raises(InsufficientBalance):
        engine.create_ticket(SITE_TILL, sample_request(stake="200.00"))
    assert locked == [False, True], "read unlocked in its batch, then locked alone"
    assert engine.create_ticket(SITE_TILL, sample_request(stake="60.00")).stake == D("60.00")
    monkeypatch.undo()
    assert engine.balance(SITE_TILL, token) == D("40.00")
    assert len(engine.list_tickets(SITE_TILL, TicketQuery())) == 1


def test_two_writers_debiting_two_shops_in_opposite_orders_do_not_deadlock(engine):
    """A batch's debits are its first locks on its accounts (balances are read unlocked): every writer takes them in
    one order. Here a third transaction holds shop A; writer 1 (A then B) queues for A, then writer 2 (B then A)
    starts. In the order each was given, writer 2 would hold B and queue for A behind writer 1, which, given A, would
    wait for B: a deadlock."""
    if engine.store.is_sqlite:
        pytest.skip("SQLite has one writer at a time")
    tokens = ["a" * 64, "b" * 64]
    with engine.store.write() as conn:
        for token in tokens:
            engine.store.add_account(conn, Account(token_sha256=token, operator="site", user_id=token, balance=D(100)))
    stores, failures = [Store(engine.store.url) for _ in range(2)], []

    def debit(store: Store, order: list[str]) -> None:
        try:
            with store.batch_write() as conn:
                SaleStatements(store.is_sqlite).write(conn, {token: 100 for token in order}, [], [], [])
        except Exception as error:
            failures.append(error)

    try:
        with engine.store.write() as holder:
            holder.execute(select(accounts).where(accounts.c.token_sha256 == tokens[0]).with_for_update())
            writers = [
                threading.Thread(target=debit, args=(store, order))
                for store, order in zip(stores, [tokens, tokens[::-1]], strict=True)
            ]
            for waiting, writer in enumerate(writers, 1):
                writer.start()
                wait_until_waiting_for_locks(engine.store, waiting)  # writer 1 first in A's queue, then writer 2
        for writer in writers:
            writer.join(10)
    finally:
        for store in stores:
            store.dispose()
    assert failures == []
    with engine.store.read() as conn:
        assert [engine.store.load_account(conn, token).balance for token in tokens] == [D("98.00")] * 2


@pytest.mark.parametrize("lost_to", ["a unique value taken", "its prepared statements dropped", "its plan unfit"])
def test_a_sale_alone_that_loses_a_race_with_the_drivers_own_error_is_written_again(engine, monkeypatch, lost_to):
    """The sale's statements go to the driver, not through SQLAlchemy: a unique value taken meanwhile (a ticket code
    another worker drew at the same moment) raises the driver's own error, and the sale alone is written again. So
    does a sale whose prepared statements someone else's DEALLOCATE ALL dropped, or whose prepared plan a change of
    the tables' columns made unfit (`PreparedStatements.forget`, `PreparedStatements.drop`)."""
    if lost_to != "a unique value taken" and engine.store.is_sqlite:
        pytest.skip("the sale's statements are prepared on PostgreSQL")
    if lost_to == "its prepared statements dropped":
        lost = psycopg.errors.InvalidSqlStatementName('prepared statement "sale_7" does not exist')
    elif lost_to == "its plan unfit":
        lost = psycopg.errors.FeatureNotSupported("cached plan must not change result type")
    elif engine.store.is_sqlite:
        lost = sqlite3.IntegrityError("UNIQUE constraint failed: tickets.code")
    else:
        lost = psycopg.errors.UniqueViolation('duplicate key value violates unique constraint "tickets_code_key"')
    real_write, raised = engine.sales.write, []

    def lose_twice(conn, *batch):
        if len(raised) < 2:
            raised.append(lost)
            raise lost
        return real_write(conn, *batch)

    monkeypatch.setattr(engine.sales, "write", lose_twice)
    ticket = engine.create_ticket(SITE_TILL, sample_request())
    assert len(raised) == 2, "lost in its batch, then in its first try alone"
    assert engine.get_ticket(SITE_TILL, ticket.id).code == ticket.code


def wait_until_waiting_for_locks(store: Store, backends: int) -> None:
    deadline = time.monotonic() + 10
    with store.engine.connect() as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            ).scalar()
            watcher.rollback()
            if waiting >= backends:
                return
            time.sleep(0.01)
    raise AssertionError(f"{backends} backends never waited for a lock")


def test_odds_moved_by_another_process_are_the_next_batchs_odds(engine):
    """The writer reads a coupon again only when another connection has committed since its last batch (SQLite's
    `data_version`): a feed in another process, its own engine on the same database, moves the odds and suspends an
    event between two sales; the second sale sees both."""
    first = engine.create_ticket(SITE_TILL, sample_request())
    feed = TicketEngine(Store(engine.store.url))
    try:
        event_id = first.events[0].id
        feed.update_event(SITE_FEED, "455", event_id, EventUpdate(odds={101: first.events[0].odds + D("1.00")}))
        repriced = engine.create_ticket(SITE_TILL, sample_request())
        assert repriced.events[0].odds == first.events[0].odds + D("1.00")
        feed.update_event(SITE_FEED, "455", first.events[1].id, EventUpdate(status="suspended"))
        with pytest.raises(EventNotAvailable):
            engine.create_ticket(SITE_TILL, sample_request())
    finally:
        feed.close()


def test_a_sale_refused_in_a_batch_on_the_engine_debits_nothing(engine):
    token = sample_request().token
    before = engine.balance(SITE_TILL, token)
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(
            pool.map(
                lambda n: _try(
                    lambda: engine.create_ticket(SITE_TILL, sample_request(stake="20000000" if n % 2 else "25"))
                ),
                range(40),
            )
        )
    sold = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(sold) == 20
    assert all(isinstance(o, (InsufficientBalance, StakeOutOfLimits)) for o in outcomes if o not in sold)
    assert engine.balance(SITE_TILL, token) == before - 20 * D("25.00")


def _try(call):
    try:
        return call()
    except Exception as error:
        return error


@pytest.mark.parametrize("jobs", [0, 1])
def test_close_without_or_with_one_sale_stops_cleanly(jobs):
    ledger = Ledger()
    ledger.first_may_commit.set()
    committer = GroupCommitter(ledger.transaction, ledger.run_batch, ledger.run_alone)
    futures = [committer.submit("only") for _ in range(jobs)]
    committer.close()
    assert [f.result(0) for f in futures] == ["ONLY"] * jobs


async def batch_waited_for_on_the_loop(ledger: Ledger, jobs: list[str], abandon: int | None = None) -> tuple[list, int]:
    """`jobs` queued behind a held first commit, waited for by coroutines of this loop (the job `abandon` given
    up on before its batch commits); their outcomes and how many callbacks the writer thread scheduled on the loop."""
    loop = asyncio.get_running_loop()
    scheduled = 0
    call_soon_threadsafe = loop.call_soon_threadsafe

    def counted(*args, **kwargs):
        nonlocal scheduled
        scheduled += threading.current_thread().name == "group-commit"
        return call_soon_threadsafe(*args, **kwargs)

    loop.call_soon_threadsafe = counted
    committer = GroupCommitter(ledger.transaction, ledger.run_batch, ledger.run_alone)
    try:
        first = committer.submit("first")
        assert await asyncio.to_thread(ledger.first_started.wait, 5)
        waits = [committer.submit_async(job) for job in jobs]
        if abandon is not None:
            waits[abandon].cancel()
        ledger.first_may_commit.set()
        await asyncio.wrap_future(first)
        outcomes = await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), 5)
    finally:
        await asyncio.to_thread(committer.close)
        del loop.call_soon_threadsafe
    return outcomes, scheduled


def test_a_batch_waited_for_on_an_event_loop_wakes_it_once():
    ledger = Ledger()
    outcomes, scheduled = asyncio.run(batch_waited_for_on_the_loop(ledger, ["a", "refused", "b", "c"]))
    assert outcomes[0] == "A" and isinstance(outcomes[1], StakeOutOfLimits) and outcomes[2:] == ["B", "C"]
    assert ledger.commits == 2
    # The first job was waited for by a thread; the next four, one batch, by one callback on the loop (plus the one
    # `wrap_future` schedules for the first).
    assert scheduled == 2


def test_a_sale_whose_waiter_gave_up_still_commits_and_the_rest_are_answered():
    ledger = Ledger()
    outcomes, _ = asyncio.run(batch_waited_for_on_the_loop(ledger, ["a", "b", "c"], abandon=1))
    assert outcomes[0] == "A" and isinstance(outcomes[1], asyncio.CancelledError) and outcomes[2] == "C"
    assert ledger.committed == ["FIRST".lower(), "a", "b", "c"]
