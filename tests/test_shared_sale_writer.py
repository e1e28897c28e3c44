"""One sale writer for all the workers of `python -m ticketing.serve` (`ticketing/selling/shared_sale_writer.py`):
the workers connect to it instead of forking their own, a worker that loses it writes its sales itself, it ends
with its server and takes its socket's folder along, and it answers only its own server's user and workers."""

import contextlib
import os
import selectors
import signal
import socket
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.servers import engine_server
from tests.support import SAMPLE_REQUEST_TEXT, Api, sample_body, seed_shop, stored_tickets
from tests.test_sale_process import alive, children, wait_until
from ticketing.selling import shared_sale_writer
from ticketing.selling.sale_process import SaleOrder, framed
from ticketing.selling.shared_sale_writer import _accept, _write_and_answer, peer_gone

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


def socket_path(writer: int) -> Path:
    """The path of the Unix socket the writer listens on (its open sockets, named in /proc/net/unix)."""
    inodes = set()
    for fd in Path(f"/proc/{writer}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    rows = [line.split() for line in Path("/proc/net/unix").read_text().splitlines()[1:]]
    (path,) = {row[7] for row in rows if len(row) > 7 and row[6] in inodes}  # the listener and its connections
    return Path(path)


def test_two_workers_write_their_sales_through_one_writer(databases, tmp_path):
    """Each worker is connected to the server's writer and has no writer of its own: when that writer is killed,
    both say they write their sales themselves from then on, and go on selling."""
    if databases.backend == "sqlite":
        pytest.skip("several uvicorn workers are for the PostgreSQL engine")
    db = databases.make("shared")
    seed_shop(db)
    log = tmp_path / "serve.log"
    with engine_server(db, log, workers=2) as (url, process):
        wait_until(lambda: len(children(process.pid)) >= 3, "the writer and two workers")
        writer, workers = writer_and_workers(process.pid)
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


@pytest.mark.parametrize("stop", ["Ctrl+C to the group", "SIGTERM to the server"])
def test_the_writer_and_its_socket_end_with_the_server(tmp_path, stop):
    """The workers stop first (answering what is in flight), then the writer, and the socket's folder (0700, its
    server's user's only) is removed."""
    db = tmp_path / "engine.sqlite3"
    seed_shop(db)
    log = tmp_path / "serve.log"
    with engine_server(db, log, command=SERVE) as (url, process):
        # One worker: uvicorn serves in the server's own process, whose only child is the writer.
        (writer,) = children(process.pid)
        assert "ticketing.serve" in cmdline(writer)
        folder = socket_path(writer).parent
        assert folder.name.startswith("ticketing-sales-") and folder.stat().st_mode & 0o777 == 0o700
        with Api(url) as api:
            assert api.post_ticket(sample_body()).status_code == 200
        if stop == "Ctrl+C to the group":
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGTERM)
        process.wait(20)
        assert not alive(writer)
        assert not folder.exists()
    assert FALLBACK not in log.read_text()
    assert "Traceback" not in log.read_text()


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


def test_the_sales_of_a_worker_that_went_away_are_not_made(tmp_path):
    """A worker that died has nobody to answer: what it sent and the writer had not decided is dropped."""
    writer_end, worker_end = socket.socketpair()
    with writer_end:
        order = SaleOrder("site", "till", None, "ab" * 32, 2**40, None, SAMPLE_REQUEST_TEXT.encode())
        worker_end.sendall(framed(order))
        assert not peer_gone(writer_end)
        worker_end.close()
        assert writer_end.recv(1 << 16)
        assert peer_gone(writer_end)
        engine = WatchedEngine()
        _write_and_answer(engine, [(writer_end, order)])
        assert engine.asked == [], "a sale nobody can be answered for was decided"
