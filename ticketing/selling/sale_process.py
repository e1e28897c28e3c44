"""Sales written by a process of their own, beside the HTTP process (`TICKETING_SALE_WRITER=process`, the default).

In one process, a sale's two halves share one interpreter lock: the event loop's (the request read, the signature,
the answer sent: about what the bare endpoint costs) and the writer thread's (checking, pricing, the batch's
statements and its commit). Under load the loop holds the lock most of the time and the writer waits for it
between statements, so the writer's batches, which set the rate, take twice as long as they work (README
"Performance"). Here the writer is a child process, on the other core: the HTTP process checks who is asking and
what they sent exactly as before, then hands the sale's checked caller and its checked request (`CheckedRequest`)
over a socket; the child decides it with the engine's own code (`TicketEngine.new_sale`, which checks the caller
again, and `write_sales`: the same group commit, refusals and retries as the writer thread) and sends back the
encoded answer once its batch is durable. Nothing is answered before the commit, as before.

The child is forked when the app starts, before the engine opens a connection or a thread, so it runs the app's
own code and settings (and any instrumentation of them: the durability tests hold its commits as they hold the
HTTP process's). It reads every sale waiting on its socket, writes them as one batch and answers them in order. A
PAM wallet's sale is sent back undecided (`DELEGATED`): it waits for its wallet on the HTTP process's threads, as
before. Should the child die, the sales it had not answered get 503 (98): each may have been sold, and the same
signed request sent again answers its ticket if so; the HTTP process then writes sales itself, in its writer
thread.
"""

import asyncio
import logging
import os
import signal
import socket
import struct
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import NoReturn

import msgspec
from sqlalchemy.engine import make_url
from starlette.responses import Response

from ticketing.access.http import Caller
from ticketing.access.replays import SignedRequest
from ticketing.access.roles import Actor, Role
from ticketing.contract.errors import EngineUnavailable, TicketingError
from ticketing.contract.models import PickedEvent, TicketRequest, TicketSource, TicketType, trusted
from ticketing.contract.wire import dumps
from ticketing.engine import TicketEngine
from ticketing.heap import freeze_what_start_built
from ticketing.selling.group_commit import MAX_BATCH
from ticketing.settings import Settings
from ticketing.storage import Store, database_url

logger = logging.getLogger(__name__)

LENGTH = struct.Struct(">I")
"""Each message on the socket: its length (4 bytes, big-endian), then the message in MessagePack."""
RECEIVE_BYTES = 96 * 1024
"""A full batch of usual sales (`MAX_BATCH`, ~0.3 KB each; the largest a sale can be is ~4 KB, and the rest of a
burst of those comes with the next read) under glibc's threshold for a mapping of its own (128 KiB): a 1 MiB buffer
was mapped, shrunk to the few KB received and unmapped, three system calls a batch."""
DELEGATED = 0
"""The answer's status for a sale the HTTP process must make itself (a PAM wallet's)."""
FAILED = 500
STOP_SECONDS = 10


class CheckedPick(msgspec.Struct, array_like=True):
    id: int
    bet: int
    odds: Decimal


class CheckedRequest(msgspec.Struct, array_like=True):
    """A `TicketRequest` the HTTP process has read and validated, as its values: the child makes the model again from
    them (`ticket_request`) without reading JSON or validating anything a second time (45–80 µs of the ~700 the child
    spent a sale, README "Performance"). Decimals cross as their text, digit for digit; enums as their values."""

    operator: str
    stake: Decimal
    currency: str
    source: TicketSource
    atag: str | None
    type: TicketType
    token: str
    odds_diff: Decimal
    coupon_id: str
    bets: list[int] | None
    events: list[CheckedPick] | None

    @classmethod
    def of(cls, request: TicketRequest) -> "CheckedRequest":
        events = request.events
        return cls(
            request.operator,
            request.stake,
            request.currency,
            request.source,
            request.atag,
            request.type,
            request.token,
            request.odds_diff,
            request.coupon_id,
            request.bets,
            None if events is None else [CheckedPick(e.id, e.bet, e.odds) for e in events],
        )

    def ticket_request(self) -> TicketRequest:
        """The model the HTTP process validated, equal to it field for field (but for `model_fields_set`, which names
        every field here: nothing on the sale's path dumps it with `exclude_unset`)."""
        events = self.events
        return trusted(
            TicketRequest,
            operator=self.operator,
            stake=self.stake,
            currency=self.currency,
            source=self.source,
            atag=self.atag,
            type=self.type,
            token=self.token,
            odds_diff=self.odds_diff,
            coupon_id=self.coupon_id,
            bets=self.bets,
            events=None if events is None else [trusted(PickedEvent, id=e.id, bet=e.bet, odds=e.odds) for e in events],
        )


class SaleOrder(msgspec.Struct, array_like=True):
    """A sale as the HTTP process hands it over: its checked caller, its idempotency key and its checked request."""

    operator: str
    role: str
    key_id: str | None
    signature: str
    expires: int
    idempotency_key: str | None
    request: CheckedRequest


class SaleAnswer(msgspec.Struct, array_like=True):
    """The HTTP answer to a sale: status and JSON body (`DELEGATED`: none yet; `FAILED`: a bug, in the child's log)."""

    status: int
    body: bytes = b""

    def response(self) -> Response:
        if self.status == FAILED:
            # The app's server-error handling answers it, as any bug behind a route (500, Connection: close).
            raise RuntimeError("The sale writer process failed on this sale: its log says why")
        return Response(self.body, self.status, media_type="application/json")


class Messages:
    """Messages of one type out of a byte stream that may cut them anywhere."""

    def __init__(self, kind: type):
        self._decoder = msgspec.msgpack.Decoder(kind)
        self._pending = b""

    def feed(self, data: bytes) -> list:
        pending = self._pending + data if self._pending else data
        messages = []
        start = 0
        while len(pending) - start >= LENGTH.size:
            (size,) = LENGTH.unpack_from(pending, start)
            end = start + LENGTH.size + size
            if end > len(pending):
                break
            messages.append(self._decoder.decode(pending[start + LENGTH.size : end]))
            start = end
        self._pending = pending[start:]
        return messages


_ENCODER = msgspec.msgpack.Encoder()


def framed(value: msgspec.Struct) -> bytes:
    encoded = _ENCODER.encode(value)
    return LENGTH.pack(len(encoded)) + encoded


def writes_sales_in_a_process(settings: Settings) -> bool:
    """As configured, but for an SQLite database in memory: a child would have its own, empty one."""
    url = make_url(database_url(settings.database))
    in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    return settings.sale_writer == "process" and not in_memory


# ---- the HTTP process's end -------------------------------------------------------------------------------------


class SaleProcess(asyncio.Protocol):
    """The child that writes sales, as the HTTP process's event loop sees it: sales sent in order, answered in
    order."""

    def __init__(self, pid: int | None):
        self.pid = pid
        self.alive = True
        self._waiting: deque[asyncio.Future] = deque()
        self._answers = Messages(SaleAnswer)
        self._transport: asyncio.Transport | None = None

    @classmethod
    async def start(cls, settings: Settings) -> "SaleProcess":
        """Forks the child; call it before this process opens the engine (no connection or thread to inherit)."""
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            ours.close()
            _child(theirs, settings)
        theirs.close()
        _transport, process = await asyncio.get_running_loop().create_unix_connection(lambda: cls(pid), sock=ours)
        return process

    @classmethod
    async def connect(cls, path: str) -> "SaleProcess":
        """The server's one writer for all its workers (`shared_sale_writer.py`), at `path`."""
        _transport, process = await asyncio.get_running_loop().create_unix_connection(lambda: cls(None), path=path)
        return process

    def sell(self, caller: Caller, idempotency_key: str | None, request: TicketRequest) -> asyncio.Future:
        """The sale's `SaleAnswer`, once the child has written it (or refused it, or `DELEGATED` it)."""
        future = asyncio.get_running_loop().create_future()
        actor, signed = caller.actor, caller.signed
        order = SaleOrder(
            actor.operator,
            actor.role.value,
            actor.key_id,
            signed.signature,
            signed.expires,
            idempotency_key,
            CheckedRequest.of(request),
        )
        message = framed(order)  # before the future is queued: a sale that could not be sent takes no answer
        self._waiting.append(future)
        self._transport.write(message)
        return future

    async def stop(self) -> None:
        """Lets the child finish what it was sent, then waits for it to end (killed if it does not). A shared writer
        is its server's to stop: this worker only closes its connection."""
        self.alive = False
        if self._transport is not None:
            self._transport.close()
        if self.pid is None:
            return
        ended = asyncio.ensure_future(asyncio.to_thread(os.waitpid, self.pid, 0))
        try:
            await asyncio.wait_for(asyncio.shield(ended), STOP_SECONDS)
        except TimeoutError:
            os.kill(self.pid, signal.SIGKILL)
            await ended
        except ChildProcessError:
            pass  # reaped already

    def connection_made(self, transport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        for answer in self._answers.feed(data):
            future = self._waiting.popleft()
            if not future.done():  # else its client went away: the sale stands, the answer goes nowhere
                future.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.alive:
            logger.error(
                "The sale writer process stopped (%d sales unanswered): this process writes the sales from now on",
                len(self._waiting),
            )
        self.alive = False
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(
                    EngineUnavailable(
                        "The sale's writer stopped before answering: it may have been sold. Send the same signed"
                        " request again: a sale that was made answers its ticket"
                    )
                )


# ---- the child ----------------------------------------------------------------------------------------------------


def _child(sock: socket.socket, settings: Settings) -> NoReturn:
    parent = os.getppid()
    run_writer_process(lambda: write_sales_forever(sock, sale_engine(settings), parent), "The sale writer process")


def run_writer_process(write: Callable[[], None], name: str) -> NoReturn:
    """A forked writer's life: `write` until it returns, then the process ends (never back into its parent's code)."""
    status = 1
    try:
        # The HTTP process's signal handling is not ours. Ctrl+C or a SIGTERM to the whole group (systemd, a process
        # supervisor) stops the HTTP process gracefully: it answers what is in flight, then closes the socket, and
        # the writer ends after the batch in hand. So the writer waits for that, or for the SIGKILL 10 s later.
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        write()
        status = 0
    except BaseException:
        logger.exception("%s failed", name)
    finally:
        os._exit(status)


def sale_engine(settings: Settings) -> TicketEngine:
    """A writer process's engine, the process's heap frozen once it is made (`ticketing/heap.py`)."""
    engine = TicketEngine(Store(database_url(settings.database)), wallet_settings=settings.wallet)
    freeze_what_start_built()
    return engine


def write_sales_forever(sock: socket.socket, engine: TicketEngine, parent: int) -> None:
    """Every sale waiting on the socket written as one batch and answered in order, until the other end closes or
    the HTTP process (`parent`) is gone: the sales it left in the socket have nobody to answer, and are not made."""
    orders = Messages(SaleOrder)
    while (data := sock.recv(RECEIVE_BYTES)) and os.getppid() == parent:
        waiting = orders.feed(data)
        for start in range(0, len(waiting), MAX_BATCH):
            answers = decide(engine, waiting[start : start + MAX_BATCH])
            sock.sendall(b"".join(framed(answer) for answer in answers))


def decide(engine: TicketEngine, orders: list[SaleOrder]) -> list[SaleAnswer]:
    """Each order's answer, its sales written in one group commit (`TicketEngine.write_sales`)."""
    answers: list[SaleAnswer | None] = [None] * len(orders)
    sales, places = [], []
    for i, order in enumerate(orders):
        try:
            request = order.request.ticket_request()
            if engine.sells_through_wallet(request.operator):
                answers[i] = SaleAnswer(DELEGATED)
                continue
            actor = Actor(operator=order.operator, role=Role(order.role), key_id=order.key_id)
            signed = SignedRequest(order.signature, order.expires)
            sales.append(engine.new_sale(actor, request, order.idempotency_key, signed))
            places.append(i)
        except Exception as error:
            answers[i] = _answer(error, failed=True)
    if sales:
        try:
            outcomes = engine.write_sales(sales)
        except Exception as error:  # a bug in the batch's own handling: each sale fails, the writer goes on
            outcomes = [(error, True)] * len(sales)
        for i, (outcome, failed) in zip(places, outcomes, strict=True):
            answers[i] = _answer(outcome, failed)
    return answers


def _answer(outcome, failed: bool) -> SaleAnswer:
    if not failed:
        return SaleAnswer(200, dumps(outcome))
    if isinstance(outcome, TicketingError):
        return SaleAnswer(outcome.http_status, dumps(outcome.body()))
    logger.error("A sale failed in the sale writer process", exc_info=outcome)
    return SaleAnswer(FAILED)
