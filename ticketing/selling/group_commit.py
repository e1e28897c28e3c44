"""Group commit: sales from any number of threads are written by one thread, several per transaction.

A sale is durable only once its transaction is committed, and a durable commit waits for the disk (an fsync of
SQLite's WAL, or PostgreSQL's). Committing every sale on its own serializes those waits; worse, threads that
queue for SQLite's single writer while holding and releasing the GIL convoy behind each other. Here the sales
that arrive while one transaction commits wait in a queue and are then written together, each checked in turn
against the state the previous one left, and answered together after one commit. Nobody is answered before the
commit.

`run_batch(conn, jobs)` writes a whole batch in one go (a handful of statements for all of its sales) and gives
each job its outcome: its result, the refusal it met (a `TicketingError`: the job wrote nothing a refusal may not
keep, so the rest of its batch commits as if it had not been there), or `AGAIN`: the job could not be decided in
this batch (a failure of its own, a retry of another sale of the same batch) and has written nothing, so it is run
again alone, in a transaction of its own, once the batch has committed; there a race is retried and a bug fails
only that job. When the transaction itself fails (a statement of the batch, its commit, a lost connection), every
job of the batch is run again alone.
"""

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from ticketing.contract.errors import TicketingError

Job = TypeVar("Job")


class _Again:
    def __repr__(self) -> str:
        return "AGAIN"


AGAIN: Any = _Again()
"""The outcome of a job to be run again alone once its batch has committed."""
Waiter = Future | asyncio.Future
"""Who waits for a job's outcome: a thread (`submit`) or a coroutine (`submit_async`)."""
MAX_BATCH = 64
"""Enough for every terminal of a shop at once; bounds how long one transaction holds the writer lock."""


class GroupCommitter(Generic[Job]):
    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[Any]],
        run_batch: Callable[[Any, list[Job]], list[Any]],
        run_alone: Callable[[Job], Any],
        name: str = "group-commit",
    ):
        """`transaction()` opens a write transaction (committed when the block ends without an exception);
        `run_batch(conn, jobs)` runs the jobs inside it and returns each one's outcome (its result, a
        `TicketingError`, or `AGAIN`); `run_alone(job)` runs one job in a transaction of its own, with whatever
        retries it needs."""
        self._transaction = transaction
        self._run_batch = run_batch
        self._run_alone = run_alone
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Job, Waiter] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, job: Job) -> Future:
        """The job's result (or exception) once its transaction has committed (or failed)."""
        self._ensure_started()
        future: Future = Future()
        self._queue.put((job, future))
        return future

    def submit_async(self, job: Job) -> asyncio.Future:
        """As `submit`, for a coroutine of the running event loop: every job of a batch waited for on one loop is
        answered by one callback on that loop, so a batch wakes the loop once, not once per job."""
        self._ensure_started()
        future = asyncio.get_running_loop().create_future()
        self._queue.put((job, future))
        return future

    def close(self) -> None:
        """Finish the queued jobs, then stop the writer thread."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._write_forever, name=self._name, daemon=True)
                self._thread.start()

    def _write_forever(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._write_batch(batch)
            if stop:
                return

    def write_now(self, jobs: list[Job]) -> list[tuple[Any, bool]]:
        """Writes `jobs` in the calling thread as the writer thread writes a batch, those it cannot decide again
        alone: each job's outcome and whether it is an exception. For a process that does nothing but write sales
        (`selling/sale_process.py`); it never starts the writer thread."""
        outcomes = self._committed(jobs)
        return [
            self._alone(job) if outcome is AGAIN else (outcome, isinstance(outcome, TicketingError))
            for job, outcome in zip(jobs, outcomes, strict=True)
        ]

    def _committed(self, jobs: list[Job]) -> list:
        """Each job's outcome in one committed transaction; all `AGAIN` if the transaction itself failed."""
        try:
            with self._transaction() as conn:
                return self._run_batch(conn, jobs)
        except Exception:
            return [AGAIN] * len(jobs)

    def _alone(self, job: Job) -> tuple[Any, bool]:
        try:
            return self._run_alone(job), False
        except Exception as error:
            return error, True

    def _write_batch(self, batch: list[tuple[Job, Waiter]]) -> None:
        outcomes = self._committed([job for job, _future in batch])
        again = self._answer(batch, outcomes)
        self._write_each_alone(again)

    @staticmethod
    def _answer(batch: list[tuple[Job, Waiter]], outcomes: list) -> list[tuple[Job, Waiter]]:
        """Answers each job of a committed batch; the jobs to run again alone."""
        again: list[tuple[Job, Waiter]] = []
        answers = _Answers()
        for (job, future), outcome in zip(batch, outcomes, strict=True):
            if outcome is AGAIN:
                again.append((job, future))
            else:
                answers.add(future, outcome, isinstance(outcome, TicketingError))
        answers.send()
        return again

    def _write_each_alone(self, batch: list[tuple[Job, Waiter]]) -> None:
        for job, future in batch:
            answers = _Answers()
            answers.add(future, *self._alone(job))
            answers.send()


class _Answers:
    """Outcomes for their waiters: a thread's `Future` is answered at once, the futures of an event loop by one
    callback run on that loop (asyncio futures may only be touched from their loop's thread)."""

    def __init__(self) -> None:
        self._by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Any, bool]]] = {}

    def add(self, future: Waiter, outcome: Any, failed: bool) -> None:
        if isinstance(future, asyncio.Future):
            self._by_loop.setdefault(future.get_loop(), []).append((future, outcome, failed))
        elif failed:
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def send(self) -> None:
        for loop, answers in self._by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, answers)
            except RuntimeError:
                pass  # the loop is closed: nobody is waiting any more


def _settle(answers: list[tuple[asyncio.Future, Any, bool]]) -> None:
    for future, outcome, failed in answers:
        if future.done():
            continue  # its request was abandoned (the client went away): the sale stands, the answer goes nowhere
        if failed:
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
