"""One sale writer for all the workers of a server (`python -m ticketing.serve --workers N`).

With a writer process per worker (`sale_process.py`), N workers make N writers that commit in turn: at 8
connections and 2 workers on PostgreSQL each wrote batches of about 4, and each paid its own reads, writes and
commit (README "Performance"). Here `ticketing.serve` forks one writer before uvicorn starts its workers; each
worker connects to it over a Unix socket (its path in `TICKETING_SALE_WRITER_SOCKET`) instead of forking its own,
and the writer writes the sales waiting from every worker as one batch, answering each worker in the order it sent
them. Everything else is `sale_process.py`'s: the orders, the answers, `decide`, and a worker that loses its writer
writes its sales itself from then on.

The socket takes checked callers on trust, so only this server may reach it: it is made in a directory only the
server's user can enter (0700), and a connection from another user (`SO_PEERCRED`) is closed unread. The writer ends
when the server closes the pipe it was given (after its workers have stopped) or when the server is gone. The sales
of a worker that died before they were answered are not written: nobody would receive their answers.
"""

import contextlib
import importlib
import logging
import os
import selectors
import shutil
import signal
import socket
import struct
import tempfile
import time
from collections.abc import Iterator
from typing import NoReturn

from ticketing.selling.group_commit import MAX_BATCH
from ticketing.selling.sale_process import (
    RECEIVE_BYTES,
    STOP_SECONDS,
    Messages,
    SaleOrder,
    SaleProcess,
    decide,
    framed,
    run_writer_process,
    sale_engine,
    writes_sales_in_a_process,
)
from ticketing.settings import Settings

logger = logging.getLogger(__name__)

SOCKET_ENV = "TICKETING_SALE_WRITER_SOCKET"
"""Where a worker finds its server's sale writer; unset, each worker forks its own (`SaleProcess.start`)."""
_PEER = struct.Struct("3i")  # SO_PEERCRED: pid, uid, gid
_STOP = object()
_LISTENER = object()


@contextlib.contextmanager
def shared_sale_writer(settings: Settings, app: str) -> Iterator[str]:
    """Forks the writer and names its socket in `SOCKET_ENV` for the workers started inside the block; when the
    block ends (its workers stopped), lets the writer finish what it holds and waits for it. The writer imports
    `app`'s module (`module:attribute`) first, as each worker does: it runs the app's own code and settings, and
    any instrumentation of them (the durability tests hold its commits as they hold a worker's)."""
    folder = tempfile.mkdtemp(prefix="ticketing-sales-")  # mode 0700
    path = os.path.join(folder, "writer.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(128)
    stop_reading, stop_writing = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(stop_writing)
        _writer(listener, stop_reading, settings, app)
    listener.close()
    os.close(stop_reading)
    previous = os.environ.get(SOCKET_ENV)
    os.environ[SOCKET_ENV] = path
    try:
        yield path
    finally:
        _restore(previous)
        os.close(stop_writing)
        _wait_for(pid)
        shutil.rmtree(folder, ignore_errors=True)


async def sale_writer(config: Settings) -> SaleProcess | None:
    """The server's shared writer when `ticketing.serve` started one, else a writer process of this worker's own;
    none where sales are written in this process (a thread, or an SQLite database in memory)."""
    if not writes_sales_in_a_process(config):
        return None
    shared = os.environ.get(SOCKET_ENV)
    if not shared:
        return await SaleProcess.start(config)
    try:
        return await SaleProcess.connect(shared)
    except OSError as error:
        logger.error(
            "The server's sale writer at %s cannot be reached (%s): this worker writes its sales", shared, error
        )
        return None


def _restore(previous: str | None) -> None:
    if previous is None:
        os.environ.pop(SOCKET_ENV, None)
    else:
        os.environ[SOCKET_ENV] = previous


def _wait_for(pid: int) -> None:
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline:
        ended, _status = os.waitpid(pid, os.WNOHANG)
        if ended:
            return
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _writer(listener: socket.socket, stop: int, settings: Settings, app: str) -> NoReturn:
    parent = os.getppid()

    def write() -> None:
        importlib.import_module(app.partition(":")[0])
        serve_sales(listener, stop, sale_engine(settings), parent)

    # Ctrl+C or a SIGTERM stops the server, whose workers answer what is in flight; the server then closes `stop`.
    run_writer_process(write, "The shared sale writer process")


def same_user(connection: socket.socket) -> bool:
    _pid, uid, _gid = _PEER.unpack(connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEER.size))
    return uid == os.getuid()


def peer_gone(connection: socket.socket) -> bool:
    """Whether the worker closed its end (it died, or stopped) with nothing more to read."""
    try:
        return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def serve_sales(listener: socket.socket, stop: int, engine, parent: int) -> None:
    """Until `stop` is closed or the server (`parent`) is gone: every sale waiting from any worker, written in
    batches (`decide`), each worker answered in the order it sent."""
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, _LISTENER)
    selector.register(stop, selectors.EVENT_READ, _STOP)
    while os.getppid() == parent:
        waiting: list[tuple[socket.socket, SaleOrder]] = []
        for key, _events in selector.select(timeout=1):
            if key.data is _STOP:
                return
            if key.data is _LISTENER:
                _accept(listener, selector)
                continue
            connection = key.fileobj
            try:
                data = connection.recv(RECEIVE_BYTES)
            except OSError:
                data = b""
            if not data:
                selector.unregister(connection)
                connection.close()
                continue
            waiting += [(connection, order) for order in key.data.feed(data)]
        for start in range(0, len(waiting), MAX_BATCH):
            _write_and_answer(engine, waiting[start : start + MAX_BATCH])


def _accept(listener: socket.socket, selector: selectors.BaseSelector) -> None:
    connection, _address = listener.accept()
    if not same_user(connection):
        logger.warning("A connection to the sale writer from another user was closed unread")
        connection.close()
        return
    selector.register(connection, selectors.EVENT_READ, Messages(SaleOrder))


def _write_and_answer(engine, batch: list[tuple[socket.socket, SaleOrder]]) -> None:
    gone = {connection for connection, _order in batch if peer_gone(connection)}
    batch = [(connection, order) for connection, order in batch if connection not in gone]
    if not batch:
        return
    answers = decide(engine, [order for _connection, order in batch])
    replies: dict[socket.socket, list[bytes]] = {}
    for (connection, _order), answer in zip(batch, answers, strict=True):
        replies.setdefault(connection, []).append(framed(answer))
    for connection, messages in replies.items():
        with contextlib.suppress(OSError):  # the worker went away meanwhile: its answers go nowhere
            connection.sendall(b"".join(messages))
