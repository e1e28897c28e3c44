"""What makes a 200 a promise: the store is durable, nobody is answered before the commit, the odds a sale is
checked against cannot change before it commits. Each test holds the moment it is about (a commit, the gap after
the odds read) with a hook instead of hoping a race falls that way, on SQLite and on PostgreSQL."""

import os
import signal
import threading
import time
from decimal import Decimal as D

import httpx
from sqlalchemy import event, text

from tests.servers import engine_server
from tests.support import SITE_FEED, SITE_TILL, Api, sample_body, sample_request, seed_shop
from ticketing.contract.models import EventUpdate

# ---- the store's own connection is durable -------------------------------------------------------------------------


def test_a_write_connection_of_the_store_commits_durably(engine):
    with engine.store.write() as conn:
        if engine.store.is_sqlite:
            settings = {
                "journal_mode": conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
                "synchronous": conn.exec_driver_sql("PRAGMA synchronous").scalar(),
            }
            assert settings == {"journal_mode": "wal", "synchronous": 2}, "WAL with synchronous=FULL (2)"
        else:
            settings = {name: conn.execute(text(f"SHOW {name}")).scalar() for name in ("synchronous_commit", "fsync")}
            assert settings == {"synchronous_commit": "on", "fsync": "on"}


# ---- nobody is answered before the commit --------------------------------------------------------------------------


class HeldCommits:
    """Stops every write commit of an engine just before it, until the test lets it through."""

    def __init__(self, engine):
        self.arrived = threading.Semaphore(0)
        self.released = threading.Semaphore(0)
        self.count = 0
        event.listen(engine.store.engine, "commit", self._hold)

    def _hold(self, conn) -> None:
        if conn.get_execution_options().get("write"):
            self.count += 1
            self.arrived.release()
            assert self.released.acquire(timeout=10), "the test never let the commit through"

    def wait_for_commit(self) -> None:
        assert self.arrived.acquire(timeout=10), "no commit came"

    def let_through(self) -> None:
        self.released.release()


def test_no_sale_is_answered_before_the_commit_of_its_batch(engine):
    held = HeldCommits(engine)
    first = engine.submit_ticket(SITE_TILL, sample_request())
    held.wait_for_commit()
    assert not first.done(), "the first sale was answered while its commit was still held"
    batch = [engine.submit_ticket(SITE_TILL, sample_request(stake=str(30 + n))) for n in range(5)]
    held.let_through()
    assert first.result(10).stake == D("25.00")

    held.wait_for_commit()
    assert not any(f.done() for f in batch), "a sale of the second batch was answered before its commit"
    held.let_through()
    assert sorted(f.result(10).stake for f in batch) == [D(30 + n) for n in range(5)]
    assert held.count == 2, "the five sales queued during the first commit shared the second one"


def test_sigkill_while_commits_are_held_loses_no_answered_ticket(databases, workers, tmp_path):
    """Sales flow, then every commit is held and the engine killed: whatever was answered must have been committed.
    An engine that answered before committing would have answered the held batch, and lost it."""
    db = databases.make("held")
    seed_shop(db)
    hold, held = tmp_path / "hold", tmp_path / "held"
    env = {"HOLD_COMMITS_WHEN": str(hold), "COMMITS_HELD": str(held)}
    answered: list[dict] = []
    lock = threading.Lock()
    stop = threading.Event()
    with engine_server(
        db, tmp_path / "uvicorn-1.log", workers=workers, extra_env=env, app="tests.held_commit_app:app"
    ) as (url, process):

        def terminal(number: int) -> None:
            with Api(url) as api:
                n = 0
                while not stop.is_set():
                    n += 1
                    try:
                        response = api.post_ticket(sample_body(stake=f"{25 + number}.{n % 100:02d}"), timeout=3)
                    except httpx.TransportError:
                        continue
                    if response.status_code == 200:
                        with lock:
                            answered.append(response.json())

        threads = [threading.Thread(target=terminal, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(answered) >= 40, "40 sales answered")
        hold.touch()
        wait_until(held.exists, "a commit held")
        with lock:
            at_hold = len(answered)
        time.sleep(1.0)  # room for any answer the engine would wrongly send while its commit is held
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        stop.set()
        for thread in threads:
            thread.join()
    hold.unlink()
    with engine_server(db, tmp_path / "uvicorn-2.log") as (url, _process), Api(url) as api:
        lost = [t["code"] for t in answered if api.ticket(t["code"]).status_code != 200]
    assert lost == [], f"{len(lost)} answered tickets were never committed ({at_hold} answered before the hold)"


def wait_until(condition, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.01)


# ---- the odds check and the write are one transaction -------------------------------------------------------------


def test_a_feed_update_cannot_commit_between_a_sales_odds_read_and_its_commit(engine):
    """Right after the sale has read the odds, a feed starts moving them; when the sale comes to its first write,
    the feed is given a second to commit. It must still be waiting when the sale commits (SQLite's writer lock;
    PostgreSQL's FOR SHARE on the event rows), however the sale's reading and writing are arranged."""
    a_feed_races_a_sale(engine)


def test_the_same_when_the_coupon_is_read_again_outside_the_batchs_pipeline(engine, monkeypatch):
    """On PostgreSQL a coupon the pipeline's statement did not find (published again meanwhile, say) is read again
    on its own: locked as well."""
    real_read_ahead = engine.sales.read_ahead
    monkeypatch.setattr(
        engine.sales, "read_ahead", lambda conn, **wanted: real_read_ahead(conn, **(wanted | {"coupons": []}))
    )
    a_feed_races_a_sale(engine)


def a_feed_races_a_sale(engine) -> None:
    statements = engine.sales
    real_load_coupon, real_write = engine.store.load_coupon_to_sell, statements.write
    feed_committed = threading.Event()
    seen: dict = {}

    def feed() -> None:
        engine.update_event(SITE_FEED, "455", 390811, EventUpdate(odds={101: D("9.99")}))
        feed_committed.set()

    def read_the_odds_then_start_the_feed(conn, coupon_id, operator, rows):
        coupon = real_load_coupon(conn, coupon_id, operator, rows)
        if "feed" not in seen:
            seen["feed"] = threading.Thread(target=feed)
            seen["feed"].start()
            # Time for the feed to reach the event rows: a sale that read the odds before it locked them must lose.
            feed_committed.wait(0.5)
        return coupon

    def give_the_feed_a_second_then_write(conn, *batch):
        seen.setdefault("feed committed before the sale's write", feed_committed.wait(1.0))
        return real_write(conn, *batch)

    engine.store.load_coupon_to_sell = read_the_odds_then_start_the_feed
    statements.write = give_the_feed_a_second_then_write
    try:
        ticket = engine.create_ticket(SITE_TILL, sample_request())
    finally:
        engine.store.load_coupon_to_sell, statements.write = real_load_coupon, real_write
    seen["feed"].join(10)
    assert seen["feed committed before the sale's write"] is False
    assert feed_committed.is_set(), "the feed went through once the sale had committed"
    assert ticket.events[0].odds != D("9.99")
    assert engine.get_coupon(SITE_TILL, "455").events[0].odds[101] == D("9.99")
