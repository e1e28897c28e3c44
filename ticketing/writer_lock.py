"""SQLite's one writer at a time, waited for in turn by every thread and process that writes the same file.

SQLite lets one connection write at a time and makes the others poll: its busy handler sleeps 1, 2, 5... up to 100
ms between tries. Threads of one process therefore queue on a lock instead (fair and immediate). Processes do too,
on an `flock` of a file beside the database: the HTTP process and its sale writer process (`selling/
sale_process.py`), several uvicorn workers, a terminal with its embedded engine. Without it, a write of the HTTP
process (odds from the feed, a payout) polled behind the sale writer's back-to-back batches: up to half a second
under load, where the lock hands it the next turn.
"""

import fcntl
import os
import threading


class SQLiteWriterLock:
    def __init__(self, database_path: str):
        self._threads = threading.Lock()
        self._path = f"{database_path}.writer-lock"
        self._file: int | None = None
        self._opened_by: int | None = None

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            fcntl.flock(self._own_file(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *_exc) -> None:
        try:
            fcntl.flock(self._file, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _own_file(self) -> int:
        # Opened by each process itself: a descriptor inherited through fork shares its lock with the parent's.
        if self._opened_by != os.getpid():
            self._file = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._opened_by = os.getpid()
        return self._file
