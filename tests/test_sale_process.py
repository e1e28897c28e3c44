"""The sale writer process (`ticketing/selling/sale_process.py`): answers matched to their sales, the caller checked
again in the child, a child that dies costs no sale twice, and the child ends with its server."""

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal as D

import httpx
import msgspec
import pytest

from tests.servers import engine_server
from tests.support import SAMPLE_REQUEST_TEXT, Api, sample_body, sample_request, seed_shop, stored_tickets
from ticketing.access.roles import Role
from ticketing.contract.models import TicketRequest
from ticketing.embedded import open_engine
from ticketing.selling.sale_process import DELEGATED, CheckedRequest, SaleOrder, decide, writes_sales_in_a_process
from ticketing.settings import Settings


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(line) for line in out.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that ended but was not reaped yet is a zombie: ended all the same.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()[0] != "Z"


def queued_for(pid: int) -> bool:
    """Whether bytes wait in a receive queue of one of `pid`'s Unix sockets (`ss`, iproute2)."""
    out = subprocess.run(["ss", "-xpH"], capture_output=True, text=True, check=True).stdout
    return any(f"pid={pid}," in line and int(line.split()[2]) > 0 for line in out.splitlines())


def wait_until(condition, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.02)


@pytest.fixture
def server(tmp_path):
    db = tmp_path / "engine.sqlite3"
    seed_shop(db)
    with engine_server(db, tmp_path / "uvicorn.log") as (url, process):
        (child,) = children(process.pid)
        yield url, process, child, db
    assert "Traceback" not in (tmp_path / "uvicorn.log").read_text()


def test_concurrent_sales_each_get_their_own_ticket(server):
    """The child answers in the order it was sent; a mix-up would give a sale another sale's ticket."""
    url, _process, child, db = server
    stakes = [D(25) + D(n) / 100 for n in range(60)]

    def sell(stake: D) -> tuple[D, dict]:
        with Api(url) as api:
            response = api.post_ticket(sample_body(stake=str(stake)))
        assert response.status_code == 200, response.text
        return stake, response.json()

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(sell, stakes))
    assert alive(child), "the sales were written by the child, not by the HTTP process after it"
    assert all(D(str(ticket["stake"])) == stake for stake, ticket in answers)
    stored = {t.id: t.stake for t in stored_tickets(db)[0]}
    assert all(stored[ticket["id"]] == stake for stake, ticket in answers)


def test_a_sale_the_dead_child_never_wrote_is_answered_503_and_sells_once_when_sent_again(server):
    url, process, child, db = server
    os.kill(child, signal.SIGSTOP)  # the child takes nothing from its socket any more
    answer: dict = {}
    with Api(url) as api:
        body = SAMPLE_REQUEST_TEXT.replace('"stake": 25,', '"stake": 31.07,')
        headers = api.signed("POST", "/be/tickets", body.encode())
        sending = threading.Thread(
            target=lambda: answer.update(response=api.http.post("/be/tickets", content=body, headers=headers))
        )
        sending.start()
        wait_until(lambda: queued_for(child), "the sale sent to the stopped child")
        os.kill(child, signal.SIGKILL)
        sending.join(10)
        first = answer["response"]
        assert (first.status_code, first.json()["code"]) == (503, 98), first.text
        assert "send the same signed request again" in first.json()["message"].lower()
        again = api.http.post("/be/tickets", content=body, headers=headers)
        assert again.status_code == 200, again.text
        replay = api.http.post("/be/tickets", content=body, headers=headers)
        assert replay.json()["id"] == again.json()["id"], "a replay is answered from the first ticket"
    assert [t.stake for t in stored_tickets(db)[0]].count(D("31.07")) == 1
    assert process.poll() is None, "the HTTP process serves on"


def test_after_the_child_dies_the_http_process_writes_the_sales(server, tmp_path):
    url, _process, child, db = server
    os.kill(child, signal.SIGKILL)
    with Api(url) as api:
        statuses = [api.post_ticket(sample_body(stake=f"{40 + n}")).status_code for n in range(3)]
    # The first sale may reach the socket before its end is seen closed: that one is 503 and was not sold.
    assert statuses[1:] == [200, 200] and statuses[0] in (200, 503)
    sold = sorted(t.stake for t in stored_tickets(db)[0])
    assert sold == [D(40 + n) for n in range(3) if statuses[n] == 200]
    assert "this process writes the sales from now on" in (tmp_path / "uvicorn.log").read_text()


@pytest.mark.parametrize("stop", ["Ctrl+C to the server", "SIGTERM to the group"])
def test_the_child_ends_with_its_server(tmp_path, stop):
    """Either way the server stops gracefully and then stops its child, which never ends first."""
    db = tmp_path / "engine.sqlite3"
    log = tmp_path / "uvicorn.log"
    with engine_server(db, log) as (url, process):
        (child,) = children(process.pid)
        with Api(url) as api:
            assert api.post_ticket(sample_body()).status_code == 200
        if stop == "Ctrl+C to the server":
            process.send_signal(signal.SIGINT)
        else:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
        wait_until(lambda: not alive(child), "the sale writer process to end")
    assert "writes the sales from now on" not in log.read_text()


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"bets": None, "events": [{"id": 7, "bet": 102, "odds": D("3.25")}, {"id": 8, "bet": 103, "odds": D("12.5")}]},
        {"atag": "till 4 \u00e9t\u00e9", "odds_diff": D("0.30"), "stake": D("1234567.89"), "source": "RETAIL"},
    ],
    ids=["bets", "events", "atag-tolerance-large-stake"],
)
def test_the_request_the_child_makes_again_is_the_one_the_http_process_validated(changes):
    """The child takes the validated values, not the JSON: what it builds must equal the model, every field of it."""
    request = sample_request(**changes)
    sent = msgspec.msgpack.decode(msgspec.msgpack.encode(CheckedRequest.of(request)), type=CheckedRequest)
    made = sent.ticket_request()
    assert made == request
    assert made.model_dump() == request.model_dump()
    assert made.model_dump_json() == request.model_dump_json(), "the request's fingerprint reads this"
    assert list(CheckedRequest.__struct_fields__) == list(TicketRequest.model_fields), "a field left behind"


def test_the_child_checks_who_sells_itself(tmp_path):
    """The HTTP process checked the signature and the role; the child's engine checks them again."""
    engine = open_engine(Settings(database=str(tmp_path / "engine.sqlite3"), simulator=False))
    try:
        request = CheckedRequest.of(sample_request())
        order = dict(
            operator="site", key_id=None, signature="ab" * 32, expires=2**40, idempotency_key=None, request=request
        )
        feed, till = decide(engine, [SaleOrder(role=Role.FEED.value, **order), SaleOrder(role="till", **order)])
        assert (feed.status, json.loads(feed.body)["code"]) == (403, 122)
        assert till.status == 200 and json.loads(till.body)["stake"] == 25
        other = SaleOrder(role="till", **(order | {"operator": "rival", "signature": "cd" * 32}))
        (refused,) = decide(engine, [other])
        assert refused.status == 403
        assert len(stored_tickets(tmp_path / "engine.sqlite3")[0]) == 1
    finally:
        engine.close()


def test_a_wallet_operators_sale_is_handed_back_to_the_http_process(tmp_path):
    engine = open_engine(
        Settings(
            database=str(tmp_path / "engine.sqlite3"),
            simulator=False,
            site_wallet_url="http://127.0.0.1:9/pam",
            site_wallet_secret="secret",
        )
    )
    try:
        order = SaleOrder("site", "till", None, "ab" * 32, 2**40, None, CheckedRequest.of(sample_request()))
        (answer,) = decide(engine, [order])
        assert answer.status == DELEGATED
        assert stored_tickets(tmp_path / "engine.sqlite3")[0] == []
    finally:
        engine.close()


def test_sales_left_by_a_dead_server_are_not_made(server):
    """Their clients saw the connection drop and may sell again: the child writes nothing its parent cannot answer."""
    url, process, child, db = server
    os.kill(child, signal.SIGSTOP)

    def send() -> None:
        with Api(url) as api, contextlib.suppress(httpx.TransportError):
            api.post_ticket(sample_body(stake="33.33"))

    sending = threading.Thread(target=send, daemon=True)
    sending.start()
    wait_until(lambda: queued_for(child), "the sale sent to the stopped child")
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    os.kill(child, signal.SIGCONT)
    wait_until(lambda: not alive(child), "the orphaned sale writer process to end")
    assert D("33.33") not in [t.stake for t in stored_tickets(db)[0]]


def test_a_database_in_memory_keeps_its_sales_in_the_one_process():
    assert writes_sales_in_a_process(Settings(database="/tmp/shop.sqlite3"))
    assert not writes_sales_in_a_process(Settings(database="sqlite://"))
    assert not writes_sales_in_a_process(Settings(database="/tmp/shop.sqlite3", sale_writer="thread"))
