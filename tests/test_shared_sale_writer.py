"""One sale writer for all the workers of `python -m ticketing.serve` (`ticketing/selling/shared_sale_writer.py`):
the workers connect to it instead of forking their own, a worker that loses it writes its sales itself, it ends
with its server and takes its socket's folder along, and it answers only its own server's user and workers."""

import contextlib
import os
import selectors
import signal
import socket
import sys
import threading
import time
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.servers import engine_server
from tests.support import Api, sample_body, sample_request, seed_shop, stored_tickets
from tests.test_sale_process import alive, children, queued_for, wait_until
from ticketing.selling import shared_sale_writer
from ticketing.selling.sale_process import CheckedRequest, Messages, SaleAnswer, SaleOrder, framed
from ticketing.selling.shared_sale_writer import _accept, _orders_of, _write_and_answer, peer_gone

SERVE = [sys.executable, "-m", "ticketing.serve", "--host", "127.0.0.1"]
FALLBACK = "this process writes the sales from now on"


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def writer_and_workers(server: int) -> tuple[int, list[int]]:
    """The writer is forked by the server (its command line); uvicorn's workers are spawned by multiprocessing (which
    may start its resource tracker beside them)."""
    processes = {pid: cmdline(pid) for pid in children(server)}
    writers = [pid for pid, command in processes.items() if "ticketing.serve" in command]
    assert len(writers) == 1, f"one sale writer forked by the server, found {processes}"
    return writers[0], [pid for pid, command in processes.items() if "spawn_main" in command]


def named_sockets(writer: int) -> list[str]:
    """The paths of the writer's open Unix sockets that have one (in /proc/net/unix): its listener's, and the same
    path again for each worker's connection it has accepted."""
    inodes = set()
    for fd in Path(f"/proc/{writer}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    rows = [line.split() for line in Path("/proc/net/unix").read_text().splitlines()[1:]]
    return [row[7] for row in rows if len(row) > 7 and row[6] in inodes]


def socket_path(writer: int) -> Path:
    """The path of the Unix socket the writer listens on."""
    (path,) = set(named_sockets(writer))
    return Path(path)


@contextlib.contextmanager
def two_workers(databases, log: Path):
    """`ticketing.serve --workers 2` on a fresh seeded PostgreSQL database: its URL, process, writer, workers and
    database."""
    if databases.backend == "sqlite":
        pytest.skip("several uvicorn workers are for the PostgreSQL engine")
    db = databases.make("shared")
    seed_shop(db)
    with engine_server(db, log, workers=2) as (url, process):
        wait_until(lambda: len(children(process.pid)) >= 3, "the writer and two workers")
        # A worker's process is there before it has connected to the writer (in its startup): on a slow machine one
        # was still starting when a test killed the writer, and said so as a writer it could not reach.
        wait_until(lambda: log.read_text().count("Application startup complete.") == 2, "both workers started")
        yield url, process, *writer_and_workers(process.pid), db


def test_two_workers_write_their_sales_through_one_writer(databases, tmp_path):
    """Each worker is connected to the server's writer and has no writer of its own: when that writer is killed,
    both say they write their sales themselves from then on, and go on selling."""
    log = tmp_path / "serve.log"
    with two_workers(databases, log) as (url, _process, writer, workers, db):
        assert len(workers) == 2 and all(children(worker) == [] for worker in workers)
        with Api(url) as api:
            assert [api.post_ticket(sample_body(stake=f"{30 + n}")).status_code for n in range(6)] == [200] * 6
        assert alive(writer)
        os.kill(writer, signal.SIGKILL)
        wait_until(lambda: log.read_text().count(FALLBACK) == 2, "both workers to lose their writer")
        with Api(url) as api:
            assert [api.post_ticket(sample_body(stake=f"{40 + n}")).status_code for n in range(6)] == [200] * 6
    sold = sorted(t.stake for t in stored_tickets(db)[0])
    assert sold == [D(30 + n) for n in range(6)] + [D(40 + n) for n in range(6)]


def test_two_workers_and_their_writer_end_with_the_server(databases, tmp_path):
    """uvicorn's supervisor of several workers stops them and returns: the writer and its folder go after them."""
    log = tmp_path / "serve.log"
    with two_workers(databases, log) as (url, process, writer, workers, _db):
        folder = socket_path(writer).parent
        with Api(url) as api:
            assert api.post_ticket(sample_body()).status_code == 200
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        assert not any(alive(pid) for pid in (writer, *workers))
        assert not folder.exists()
    assert FALLBACK not in log.read_text()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl+C to the group", "SIGTERM to the server"])
def test_the_writer_and_its_socket_end_after_the_workers(tmp_path, stop):
    """A sale in flight when the server is told to stop is answered (the writer is stopped after the workers),
    then the writer ends, the socket's folder (0700, its server's user's only) is removed, and the server ends by
    the signal, as uvicorn alone does (a supervisor counts that as a clean stop)."""
    db = tmp_path / "engine.sqlite3"
    seed_shop(db)
    log = tmp_path / "serve.log"
    with engine_server(db, log, command=SERVE) as (url, process):
        # One worker: uvicorn serves in the server's own process, whose only child is the writer.
        (writer,) = children(process.pid)
        assert "ticketing.serve" in cmdline(writer)
        folder = socket_path(writer).parent
        assert folder.name.startswith("ticketing-sales-") and folder.stat().st_mode & 0o777 == 0o700
        # Stopped only once it has accepted the worker's connection: a connection still in the listener's backlog
        # belongs to no process, and the sale queued on it could not be seen waiting for the writer.
        wait_until(lambda: len(named_sockets(writer)) >= 2, "the writer to accept the worker's connection")
        os.kill(writer, signal.SIGSTOP)
        answer: dict = {}
        sending = threading.Thread(
            target=lambda: answer.update(response=Api(url).post_ticket(sample_body(stake="27.27"), timeout=20))
        )
        sending.start()
        wait_until(lambda: queued_for(writer), "the sale sent to the stopped writer")
        if stop == signal.SIGINT:
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        os.kill(writer, signal.SIGCONT)
        sending.join(20)
        assert answer["response"].status_code == 200, answer["response"].text
        assert process.wait(20) == -stop
        assert not alive(writer)
        assert not folder.exists()
    assert [t.stake for t in stored_tickets(db)[0]] == [D("27.27")]
    assert FALLBACK not in log.read_text()
    assert "Traceback" not in log.read_text()


def test_a_server_killed_leaves_no_writer_nor_socket(tmp_path):
    db = tmp_path / "engine.sqlite3"
    seed_shop(db)
    with engine_server(db, tmp_path / "serve.log", command=SERVE) as (_url, process):
        (writer,) = children(process.pid)
        folder = socket_path(writer).parent
        process.kill()
        process.wait(10)
        wait_until(lambda: not alive(writer), "the writer to see its server gone")
        assert not folder.exists()


def test_an_app_with_settings_of_its_own_keeps_a_writer_of_its_own(tmp_path):
    """The shared writer writes with the server's environment; an app made with another database must not have
    its sales written there."""
    env_db, own_db = tmp_path / "env.sqlite3", tmp_path / "own.sqlite3"
    seed_shop(env_db)
    seed_shop(own_db)
    command = [*SERVE, "--app", "tests.own_settings_app:app"]
    with engine_server(env_db, tmp_path / "serve.log", command=command, extra_env={"OWN_DB": str(own_db)}) as (
        url,
        process,
    ):
        assert len(children(process.pid)) == 2, "the unused shared writer and the app's own"
        with Api(url) as api:
            assert api.post_ticket(sample_body(stake="26")).status_code == 200
    assert [t.stake for t in stored_tickets(own_db)[0]] == [D(26)]
    assert stored_tickets(env_db)[0] == []


def test_without_room_for_a_socket_each_worker_writes_with_its_own(tmp_path):
    """A socket's path has at most 107 bytes: under a longer temporary directory the server still starts."""
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    db = tmp_path / "engine.sqlite3"
    seed_shop(db)
    log = tmp_path / "serve.log"
    with engine_server(db, log, command=SERVE, extra_env={"TMPDIR": str(deep)}) as (url, process):
        (child,) = children(process.pid)
        assert "ticketing.serve" in cmdline(child)
        with Api(url) as api:
            assert api.post_ticket(sample_body()).status_code == 200
    assert "each worker forks its own" in log.read_text()
    assert list(deep.iterdir()) == []


def test_a_connection_from_another_user_is_closed_unread(tmp_path, monkeypatch):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "writer.sock"))
    listener.listen()
    selector = selectors.DefaultSelector()
    with listener, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as ours, socket.socket(socket.AF_UNIX) as theirs:
        ours.connect(str(tmp_path / "writer.sock"))
        _accept(listener, selector)
        assert len(selector.get_map()) == 1, "this user's connection is served"
        uid = os.getuid()
        monkeypatch.setattr(shared_sale_writer.os, "getuid", lambda: uid + 1)
        theirs.connect(str(tmp_path / "writer.sock"))
        _accept(listener, selector)
        assert len(selector.get_map()) == 1, "another user's connection is not served"
        theirs.settimeout(5)
        assert theirs.recv(1) == b"", "and is closed"


class WatchedEngine:
    """Records that anything asked it to decide a sale (and refuses)."""

    def __init__(self):
        self.asked: list[str] = []

    def __getattr__(self, name):
        self.asked.append(name)
        raise RuntimeError("not to be asked")


def test_a_worker_that_sends_what_is_not_an_order_loses_its_connection_only():
    selector = selectors.DefaultSelector()
    (bad, bad_worker), (good, good_worker) = socket.socketpair(), socket.socketpair()
    for connection in (bad, good):
        selector.register(connection, selectors.EVENT_READ, Messages(SaleOrder))
    bad_worker.sendall(b"\x00\x00\x00\x03abc")
    order = SaleOrder("site", "till", None, "ab" * 32, 2**40, None, CheckedRequest.of(sample_request()))
    good_worker.sendall(framed(order))
    assert _orders_of(selector.get_key(bad), selector) == []
    assert _orders_of(selector.get_key(good), selector) == [(good, order)]
    assert list(selector.get_map().values())[0].fileobj is good and len(selector.get_map()) == 1
    bad_worker.settimeout(5)
    assert bad_worker.recv(1) == b"", "the bad one is closed"


def test_a_worker_that_takes_no_answers_is_given_up_and_the_others_are_answered(tmp_path, monkeypatch):
    """One worker that stops reading must not stop every worker's sales: after its time it is dropped."""
    big = SaleAnswer(200, b"x" * 3_000_000)  # more than a socket's buffer holds
    monkeypatch.setattr(shared_sale_writer, "decide", lambda _engine, orders: [big] * len(orders))
    monkeypatch.setattr(shared_sale_writer, "SEND_SECONDS", 0.3)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "writer.sock"))
    listener.listen()
    selector = selectors.DefaultSelector()
    workers = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2)]
    for worker in workers:
        worker.connect(str(tmp_path / "writer.sock"))
        _accept(listener, selector)
    stuck, healthy = (key.fileobj for key in selector.get_map().values())
    healthy_worker = workers[1]
    order = SaleOrder("site", "till", None, "ab" * 32, 2**40, None, CheckedRequest.of(sample_request()))
    received = bytearray()
    reading = threading.Thread(target=lambda: received.extend(_read_all(healthy_worker, len(framed(big)))), daemon=True)
    reading.start()
    outcome: dict = {}
    answering = threading.Thread(
        target=lambda: outcome.update(failed=_write_and_answer(None, [(stuck, order), (healthy, order)], set()))
    )
    answering.start()
    answering.join(5)
    reading.join(5)
    if answering.is_alive():
        workers[0].close()  # lets the blocked writer go: its send fails
        answering.join(5)
        pytest.fail("the writer waited for the worker that takes no answers")
    assert outcome["failed"] == {stuck}
    assert bytes(received) == framed(big)


def _read_all(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += sock.recv(size - len(data))
    return data


def test_the_sales_of_a_worker_that_went_away_are_not_made(tmp_path):
    """A worker that died has nobody to answer: what it sent and the writer had not decided is dropped."""
    writer_end, worker_end = socket.socketpair()
    with writer_end:
        order = SaleOrder("site", "till", None, "ab" * 32, 2**40, None, CheckedRequest.of(sample_request()))
        worker_end.sendall(framed(order))
        assert not peer_gone(writer_end)
        worker_end.close()
        assert writer_end.recv(1 << 16)
        assert peer_gone(writer_end)
        engine = WatchedEngine()
        assert _write_and_answer(engine, [(writer_end, order)], set()) == set()
        assert engine.asked == [], "a sale nobody can be answered for was decided"
