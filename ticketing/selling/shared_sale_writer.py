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
import hashlib
import importlib
import logging
import os
import select
import selectors
import shutil
import signal
import socket
import struct
import tempfile
import time
from collections.abc import Iterator
from typing import NoReturn

import msgspec

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
SETTINGS_ENV = "TICKETING_SALE_WRITER_SETTINGS"
"""A fingerprint of the settings the shared writer writes with: a worker whose app has others does not use it."""
SEND_SECONDS = 5.0
"""How long a worker may leave its answers untaken before the writer gives up on it (it then answers its waiting
sales 503 and writes its sales itself): one worker that stops reading must not stop every worker's sales."""
_PEER = struct.Struct("3i")  # SO_PEERCRED: pid, uid, gid
_STOP = object()
_LISTENER = object()


@contextlib.contextmanager
def shared_sale_writer(settings: Settings, app: str) -> Iterator[str | None]:
    """Forks the writer and names its socket in `SOCKET_ENV` for the workers started inside the block; when the
    block ends (its workers stopped), lets the writer finish what it holds and waits for it. The writer imports
    `app`'s module (`module:attribute`) first, as each worker does: it runs the app's own code, and any
    instrumentation of it (the durability tests hold its commits as they hold a worker's). It writes with the
    settings of the server's environment; a worker whose app has settings of its own (another database, say) forks
    a writer of its own instead (`SETTINGS_ENV`). Where no socket can be made (a temporary directory whose path
    is too long for one), each worker forks its own, as under plain uvicorn: the block yields None."""
    folder = tempfile.mkdtemp(prefix="ticketing-sales-")  # mode 0700
    path = os.path.join(folder, "writer.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        listener.listen(128)
    except OSError as error:
        listener.close()
        shutil.rmtree(folder, ignore_errors=True)
        logger.warning("No socket for a shared sale writer (%s): each worker forks its own", error)
        yield None
        return
    stop_reading, stop_writing = os.pipe()
    pid = _fork_blocking_stops()
    if pid == 0:
        os.close(stop_writing)
        _writer(listener, stop_reading, settings, app)
    listener.close()
    os.close(stop_reading)
    previous = {name: os.environ.get(name) for name in (SOCKET_ENV, SETTINGS_ENV)}
    os.environ |= {SOCKET_ENV: path, SETTINGS_ENV: settings_fingerprint(settings)}
    try:
        yield path
    finally:
        _restore(previous)
        os.close(stop_writing)
        _wait_for(pid)
        shutil.rmtree(folder, ignore_errors=True)


def _fork_blocking_stops() -> int:
    """fork() with SIGINT and SIGTERM held until the child has set its own handling: one arriving meanwhile must
    not run the server's handler in the child."""
    stops = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    pid = os.fork()
    if pid != 0:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
    return pid


def settings_fingerprint(settings: Settings) -> str:
    return hashlib.sha256(settings.model_dump_json().encode()).hexdigest()


async def sale_writer(config: Settings) -> SaleProcess | None:
    """The server's shared writer when `ticketing.serve` started one with this app's settings, else a writer
    process of this worker's own; none where sales are written in this process (a thread, or an SQLite database
    in memory)."""
    if not writes_sales_in_a_process(config):
        return None
    shared = os.environ.get(SOCKET_ENV)
    if not shared or os.environ.get(SETTINGS_ENV) != settings_fingerprint(config):
        return await SaleProcess.start(config)
    try:
        return await SaleProcess.connect(shared)
    except OSError as error:
        logger.error(
            "The server's sale writer at %s cannot be reached (%s): this worker writes its sales", shared, error
        )
        return None


def _restore(previous: dict[str, str | None]) -> None:
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


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
    """Whether the worker has closed its end (it died, or stopped), whatever it left unread: asked without waiting
    (a connection's reads and writes otherwise wait up to `SEND_SECONDS`)."""
    poll = select.poll()
    poll.register(connection, select.POLLRDHUP)
    return any(
        events & (select.POLLRDHUP | select.POLLHUP | select.POLLERR | select.POLLNVAL) for _fd, events in poll.poll(0)
    )


def serve_sales(listener: socket.socket, stop: int, engine, parent: int) -> None:
    """Until `stop` is closed or the server (`parent`) is gone: every sale waiting from any worker, written in
    batches (`decide`), each worker answered in the order it sent. A server that was killed cannot remove the
    socket's folder: the writer does, however it was stopped. A killed server's end of `stop` closes before the
    writer is given another parent, so `getppid` cannot tell a kill from a clean stop (in which the server removes
    the folder too, once the writer has ended)."""
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, _LISTENER)
    selector.register(stop, selectors.EVENT_READ, _STOP)
    _serve(selector, listener, engine, parent)
    shutil.rmtree(os.path.dirname(listener.getsockname()), ignore_errors=True)


def _serve(selector: selectors.BaseSelector, listener: socket.socket, engine, parent: int) -> None:
    while os.getppid() == parent:
        waiting: list[tuple[socket.socket, SaleOrder]] = []
        for key, _events in selector.select(timeout=1):
            if key.data is _STOP:
                return
            if key.data is _LISTENER:
                _accept(listener, selector)
            else:
                waiting += _orders_of(key, selector)
        broken: set[socket.socket] = set()
        for start in range(0, len(waiting), MAX_BATCH):
            broken |= _write_and_answer(engine, waiting[start : start + MAX_BATCH], broken)
        for connection in broken:
            _drop(selector, connection)


def _orders_of(key: selectors.SelectorKey, selector: selectors.BaseSelector) -> list[tuple[socket.socket, SaleOrder]]:
    """The orders a worker's connection has ready; none, and the connection dropped, when the worker closed it or
    sent what is not an order (its waiting sales are then answered 503 by the worker itself)."""
    connection = key.fileobj
    try:
        data = connection.recv(RECEIVE_BYTES)
        orders = key.data.feed(data) if data else None
    except OSError:
        orders = None
    except msgspec.DecodeError as error:
        logger.error("A worker sent the sale writer what is not a sale order (%s): its connection is closed", error)
        orders = None
    if orders is None:
        _drop(selector, connection)
        return []
    return [(connection, order) for order in orders]


def _drop(selector: selectors.BaseSelector, connection: socket.socket) -> None:
    with contextlib.suppress(KeyError, ValueError):
        selector.unregister(connection)
    connection.close()


def _accept(listener: socket.socket, selector: selectors.BaseSelector) -> None:
    try:
        connection, _address = listener.accept()
    except OSError as error:  # out of descriptors, say: the worker's connect fails, and it writes its own sales
        logger.error("The sale writer could not take a worker's connection: %s", error)
        return
    if not same_user(connection):
        logger.warning("A connection to the sale writer from another user was closed unread")
        connection.close()
        return
    connection.settimeout(SEND_SECONDS)  # reads come only when the selector says data is there
    selector.register(connection, selectors.EVENT_READ, Messages(SaleOrder))


def _write_and_answer(
    engine, batch: list[tuple[socket.socket, SaleOrder]], broken: set[socket.socket]
) -> set[socket.socket]:
    """Decides the batch and answers each worker; the connections that could not take their answers in
    `SEND_SECONDS` (or went away). A worker gone before its sales were decided (`peer_gone`), or given up on
    earlier in the round (`broken`), has its sales left unmade: nobody would receive their answers."""
    batch = [(c, order) for c, order in batch if c not in broken and not peer_gone(c)]
    if not batch:
        return set()
    answers = decide(engine, [order for _connection, order in batch])
    replies: dict[socket.socket, list[bytes]] = {}
    for (connection, _order), answer in zip(batch, answers, strict=True):
        replies.setdefault(connection, []).append(framed(answer))
    failed = set()
    for connection, messages in replies.items():
        try:
            connection.sendall(b"".join(messages))
        except OSError as error:  # gone, or not taking its answers (`SEND_SECONDS`)
            logger.error("A worker's connection took no sale answers (%s): it is closed", error)
            failed.add(connection)
    return failed
