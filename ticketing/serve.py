"""The engine's HTTP server for a shop network: `python -m ticketing.serve [--host H] [--port P] [--workers N]`.

`uvicorn ticketing.api:app` alone answers whatever reaches it and waits as long as it is made to: a 30 MB header
was answered 200, and a client that connects and sends nothing, or a byte now and then, holds its connection for
ever. This runs the same app under uvicorn with limits (README "Configuration"):

- the request line and headers: at most `TICKETING_MAX_HEADER_BYTES` (16 KiB), refused with 431 while reading;
- a request must arrive whole, head and body, within `TICKETING_REQUEST_SECONDS` (10 s) of its connection or of
  the answer before it: a request still arriving then gets 408, a connection that sent nothing is closed;
- a keep-alive connection left idle is closed after `TICKETING_KEEP_ALIVE_SECONDS` (5 s);
- at most `TICKETING_MAX_CONNECTIONS` (100) connections are served at once: a request on one more gets 503.

uvicorn's httptools parser, the fast one used here, has neither the head limit nor the deadline, so
`ShopHttpProtocol` adds both and the connection limit's answer; all three answer with the `{code, message}` body
of every other error, and `Connection: close`. What still needs a reverse proxy in front is in the README.

It also starts the server's one sale writer, shared by all its workers (`selling/shared_sale_writer.py`), before
uvicorn starts them.
"""

import argparse
import asyncio
import contextlib
import functools
import os
import signal
from typing import Any, NoReturn

import uvicorn
from pydantic import BaseModel, Field
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ticketing.contract import wire
from ticketing.contract.errors import RequestHeadTooLarge, RequestTooSlow, ServerBusy, TicketingError
from ticketing.selling.sale_process import writes_sales_in_a_process
from ticketing.selling.shared_sale_writer import shared_sale_writer
from ticketing.settings import Settings

APP = "ticketing.api:app"


class ServerLimits(BaseModel):
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    request_seconds: float = Field(default=10.0, gt=0)
    keep_alive_seconds: int = Field(default=5, ge=1)
    max_connections: int = Field(default=100, ge=1)

    @classmethod
    def from_env(cls) -> "ServerLimits":
        names = {
            "max_header_bytes": "TICKETING_MAX_HEADER_BYTES",
            "request_seconds": "TICKETING_REQUEST_SECONDS",
            "keep_alive_seconds": "TICKETING_KEEP_ALIVE_SECONDS",
            "max_connections": "TICKETING_MAX_CONNECTIONS",
        }
        return cls(**{field: os.environ[name] for field, name in names.items() if os.environ.get(name)})


@functools.cache
def limits() -> ServerLimits:
    """Read once per process: with `--workers` each worker reads the same environment."""
    return ServerLimits.from_env()


def error_bytes(error: TicketingError) -> bytes:
    """A whole HTTP/1.1 answer written straight to the socket, for what is refused before the app sees it."""
    body = wire.dumps(error.body())
    head = (
        f"HTTP/1.1 {error.http_status} {error.default_message}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


async def server_busy(scope: dict, receive: Any, send: Any) -> None:
    error = ServerBusy(f"More than {limits().max_connections} connections: try again")
    body = wire.dumps(error.body())
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ShopHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus a head size limit, a deadline for each request to arrive whole, and a
    `{code, message}` answer when there are more connections than it serves."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.limits = limits()
        self.reading_head = True
        self.head_bytes = 0
        self.request_clock: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_request_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_request_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # While a head is read, it is fed in pieces no larger than what the limit still allows: httptools would
        # otherwise buffer a single header of any size before calling back.
        while data and self.reading_head and not self.transport.is_closing():
            room = self.limits.max_header_bytes - self.head_bytes
            if room <= 0:
                self._refuse(RequestHeadTooLarge(f"Request line and headers over {self.limits.max_header_bytes} bytes"))
                return
            piece, data = data[:room], data[room:]
            self.head_bytes += len(piece)
            super().data_received(piece)
        if data and not self.transport.is_closing():
            super().data_received(data)

    def on_headers_complete(self) -> None:
        self.reading_head = False
        self.head_bytes = 0
        served = len(self.connections) <= self.limits.max_connections
        if served:
            super().on_headers_complete()
            return
        # uvicorn's own `limit_concurrency` answers in plain text: the same check, answered by `server_busy`.
        self.app, app = server_busy, self.app
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._stop_request_clock()
        self.reading_head = True

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._start_request_clock()

    def _start_request_clock(self) -> None:
        self._stop_request_clock()
        self.request_clock = self.loop.call_later(self.limits.request_seconds, self._request_too_slow)

    def _stop_request_clock(self) -> None:
        if self.request_clock is not None:
            self.request_clock.cancel()
            self.request_clock = None

    def _request_too_slow(self) -> None:
        self.request_clock = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        answering = cycle is not None and not cycle.response_complete and not cycle.more_body
        if answering or self.pipeline:
            return  # the app has a whole request: the clock starts again after its answer
        if cycle is not None and not cycle.response_complete and cycle.more_body:
            if cycle.response_started:
                self.transport.close()
            else:
                cycle.disconnected = True
                cycle.message_event.set()
                self._refuse(RequestTooSlow(f"Request not received whole within {self.limits.request_seconds:g} s"))
            return
        if self.head_bytes:
            self._refuse(RequestTooSlow(f"Request not received whole within {self.limits.request_seconds:g} s"))
        else:
            self.transport.close()  # nothing of a request was sent: nobody is waiting for an answer

    def _refuse(self, error: TicketingError) -> None:
        self.logger.warning("%s: %s", self.client, error.message)
        self.transport.write(error_bytes(error))
        self.transport.close()


def uvicorn_options() -> dict[str, Any]:
    """What `ticketing.serve` gives uvicorn on top of the app, host, port and workers."""
    return {
        "http": "ticketing.serve:ShopHttpProtocol",
        "ws": "none",
        "lifespan": "on",
        "timeout_keep_alive": limits().keep_alive_seconds,
        "timeout_graceful_shutdown": 10,
        "backlog": 128,
        "server_header": False,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The ticket engine's HTTP API, with limits for a shop network.")
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to serve the shop's network")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="several need PostgreSQL (TICKETING_DB)")
    parser.add_argument("--app", default=APP, help=f"the ASGI app, module:attribute (default {APP}; benchmarks)")
    args = parser.parse_args(argv)
    limits()  # a bad setting stops the server here, not at its first connection
    settings = Settings.from_env()
    # uvicorn stops gracefully on SIGINT and SIGTERM, then raises the signal again: as an exception here, it lets
    # the shared sale writer be stopped and its socket's folder removed after the workers.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, _stopped)
    writer = shared_sale_writer(settings, args.app) if writes_sales_in_a_process(settings) else contextlib.nullcontext()
    try:
        with writer:
            uvicorn.run(args.app, host=args.host, port=args.port, workers=args.workers, **uvicorn_options())
    except StoppedBySignal as stopped:
        # Ended by the signal, as uvicorn alone ends: a supervisor (systemd) counts that as a clean stop.
        signal.signal(stopped.signum, signal.SIG_DFL)
        os.kill(os.getpid(), stopped.signum)


class StoppedBySignal(Exception):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _stopped(signum: int, _frame: Any) -> NoReturn:
    # A second Ctrl+C while the writer finishes is ignored: the first one's stop is under way (10 s at most).
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, signal.SIG_IGN)
    raise StoppedBySignal(signum)


if __name__ == "__main__":
    main()
