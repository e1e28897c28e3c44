"""Group commit: sales from any number of threads are written by one thread, several per transaction.

A sale is durable only once its transaction is committed, and a durable commit waits for the disk (an fsync of
SQLite's WAL, or PostgreSQL's). Committing every sale on its own serializes those waits; worse, threads that
queue for SQLite's single writer while holding and releasing the GIL convoy behind each other. Here the sales
that arrive while one transaction commits wait in a queue and are then written together, each in turn against
the state the previous one left, and answered together after one commit. Nobody is answered before the commit.

A sale refused by a business rule (a `TicketingError`) must have written nothing, so the rest of its batch
commits as if it had not been there. A sale that fails otherwise (a uniqueness race, a deadlock, a bug) has had
its own writes undone (the engine runs each sale of a batch in a savepoint): the rest of its batch commits as
well, and that sale alone is then run again in a transaction of its own, where a race is retried and a bug fails
only that sale. Only when the transaction itself fails (its commit, a lost connection) is every sale of the batch
run again alone.
"""

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from ticketing.errors import TicketingError

Job = TypeVar("Job")
MAX_BATCH = 64
"""Enough for every terminal of a shop at once; bounds how long one transaction holds the writer lock."""


class GroupCommitter(Generic[Job]):
    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[Any]],
        run_one: Callable[[Any, Job], Any],
        run_alone: Callable[[Job], Any],
        name: str = "group-commit",
    ):
        """`transaction()` opens a write transaction (committed when the block ends without an exception);
        `run_one(conn, job)` runs a job inside it and, when it raises, leaves the transaction as it found it;
        `run_alone(job)` runs one job in a transaction of its own, with whatever retries it needs."""
        self._transaction = transaction
        self._run_one = run_one
        self._run_alone = run_alone
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Job, Future] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, job: Job) -> Future:
        """The job's result (or exception) once its transaction has committed (or failed)."""
        self._ensure_started()
        future: Future = Future()
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

    def _write_batch(self, batch: list[tuple[Job, Future]]) -> None:
        outcomes: list[tuple[Future, Any, BaseException | None]] = []
        failed: list[tuple[Job, Future]] = []
        try:
            with self._transaction() as conn:
                for job, future in batch:
                    try:
                        outcomes.append((future, self._run_one(conn, job), None))
                    except TicketingError as refused:
                        outcomes.append((future, None, refused))
                    except Exception:
                        failed.append((job, future))
        except Exception:
            self._write_each_alone(batch)
            return
        for future, result, error in outcomes:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
        self._write_each_alone(failed)

    def _write_each_alone(self, batch: list[tuple[Job, Future]]) -> None:
        for job, future in batch:
            try:
                future.set_result(self._run_alone(job))
            except Exception as error:
                future.set_exception(error)
