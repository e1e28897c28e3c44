"""The server a shop runs, `python -m ticketing.serve`, holds up on a network anyone can reach (issue 11): heads
over the limit, slow and idle clients, more connections than it serves, and a 500 that closes its connection
properly. Raw sockets, because an HTTP client library would not send what a hostile client does."""

import json
import socket
import sys
import time

import pytest

from tests.servers import engine_server, server_in_this_process
from tests.support import SAMPLE_REQUEST_TEXT
from ticketing.access.betstack_signing import signed_headers
from ticketing.engine import TicketEngine
from ticketing.settings import DEMO_SITE_SECRET

LIMITS = {
    "TICKETING_MAX_HEADER_BYTES": "8192",
    "TICKETING_REQUEST_SECONDS": "3",
    "TICKETING_KEEP_ALIVE_SECONDS": "1",
    "TICKETING_MAX_CONNECTIONS": "4",
}
"""Small limits; the request time well above the keep-alive time, so that each is seen doing its own job."""


@pytest.fixture(scope="module")
def shop_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    command = [sys.executable, "-m", "ticketing.serve", "--host", "127.0.0.1"]
    with engine_server(folder / "shop.sqlite3", folder / "serve.log", extra_env=LIMITS, command=command) as (url, _):
        yield int(url.rsplit(":", 1)[1])


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(10)
    return sock


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP answer: status, headers (lower-case names), body (by content-length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    headers = {name.lower(): value for name, value in headers.items()}
    while len(body) < int(headers.get("content-length", 0)):
        body += sock.recv(65536)
    return int(lines[0].split()[1]), headers, body


def closed_by_server(sock: socket.socket, within: float = 10) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


HEALTH = b"GET /health HTTP/1.1\r\nHost: shop\r\n\r\n"


def test_a_head_over_the_limit_is_431_before_it_is_read_whole(shop_server):
    with connect(shop_server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: shop\r\nX-Big: " + b"a" * 6000 + b"\r\n\r\n")
        assert read_answer(sock)[0] == 200, "a head under the limit is served"
    with connect(shop_server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: shop\r\nX-Big: ")
        sent = 0
        try:
            while sent < 30_000_000:
                sock.sendall(b"a" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 30_000_000, "the server stopped reading before 30 MB"
        try:
            status, headers, body = read_answer(sock)
        except ConnectionResetError:
            return  # the answer was written, but the unread bytes made the kernel reset the connection
        assert (status, json.loads(body)["code"], headers["connection"]) == (431, 93, "close")


def test_a_request_that_does_not_arrive_whole_in_time_is_408_and_closed(shop_server):
    with connect(shop_server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: shop\r\n")
        for _ in range(5):
            time.sleep(0.4)
            sock.sendall(b"X-Drip: 1\r\n")  # never idle for the keep-alive time, yet the request never whole
        status, headers, body = read_answer(sock)
        assert (status, json.loads(body)["code"], headers["connection"]) == (408, 92, "close")
        assert closed_by_server(sock)
    with connect(shop_server) as sock:
        sock.sendall(b"POST /be/tickets HTTP/1.1\r\nHost: shop\r\nContent-Length: 100\r\n\r\n{")
        status, headers, body = read_answer(sock)
        assert (status, json.loads(body)["code"]) == (408, 92)
        assert closed_by_server(sock)


def test_idle_connections_are_closed(shop_server):
    with connect(shop_server) as sock:
        assert closed_by_server(sock), "a connection that never sends is closed after the request time"
    with connect(shop_server) as sock:
        sock.sendall(HEALTH)
        assert read_answer(sock)[0] == 200
        sock.sendall(HEALTH)
        assert read_answer(sock)[0] == 200, "keep-alive serves the next request"
        assert closed_by_server(sock, within=2.5), "then it is closed once idle for the keep-alive time"


def test_connections_beyond_the_limit_are_503_until_one_ends(shop_server):
    held = [connect(shop_server) for _ in range(4)]
    try:
        with connect(shop_server) as sock:
            sock.sendall(HEALTH)
            status, headers, body = read_answer(sock)
            assert (status, json.loads(body)["code"], headers["connection"]) == (503, 94, "close")
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    with connect(shop_server) as sock:
        sock.sendall(HEALTH)
        assert read_answer(sock)[0] == 200


@pytest.mark.parametrize(
    "route", ["GET /be/tickets/{id}", "POST /be/tickets", "POST /be/tickets in the sale writer process"]
)
def test_after_a_500_the_answer_says_connection_close_and_the_connection_ends(tmp_path, route, monkeypatch):
    """Whether FastAPI's routing serves the request or `SaleLane` does, before it, or the sale writer process."""

    def broken(*_args, **_kwargs):
        raise RuntimeError(f"a bug behind {route}")

    in_child = route.endswith("process")
    if in_child:
        monkeypatch.setattr(TicketEngine, "_sell_batch", broken)
    with server_in_this_process(tmp_path, "process" if in_child else "thread") as (port, app):
        if route.startswith("GET"):
            app.state.engine.get_ticket = broken
            body = b""
            head = "GET /be/tickets/ABC123 HTTP/1.1\r\nHost: shop\r\n"
        else:
            app.state.engine.sell = broken
            body = SAMPLE_REQUEST_TEXT.encode()
            head = f"POST /be/tickets HTTP/1.1\r\nHost: shop\r\nContent-Length: {len(body)}\r\n"
        headers = signed_headers("site", DEMO_SITE_SECRET, body)
        request = head + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        with connect(port) as sock:
            sock.sendall(request.encode() + b"\r\n" + body)
            status, answer_headers, body = read_answer(sock)
            assert (status, json.loads(body)) == (500, {"code": 99, "message": "Internal error"})
            assert answer_headers.get("connection") == "close"
            assert closed_by_server(sock)
