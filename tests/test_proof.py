"""Proof under load, faults and attack, over real HTTP against engines started by the tests on 127.0.0.1."""

import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal as D

import httpx
import pytest
from sqlalchemy import text

from tests.servers import engine_server
from tests.support import SAMPLE_REQUEST_TEXT, Api, sample_body, seed_shop, stored_tickets
from ticketing.access.betstack_signing import sign
from ticketing.demo.data import SAMPLE_TOKEN, SAMPLE_USER_ID, SHOP_OPENING_BALANCE
from ticketing.settings import DEMO_SITE_SECRET
from ticketing.storage import Store, database_url

TERMINALS, TICKETS_EACH = 8, 100
START_BALANCE = D("100000.00")


def stake_for(terminal: int, n: int) -> str:
    return f"{25 + terminal + (n % 7) * 0.25:.2f}"


def test_eight_tills_of_one_shop_sell_a_hundred_each_on_its_one_account_while_odds_move(databases, workers, tmp_path):
    """As a shop runs: every till sells on the shop's one account, so every debit races the others for one row."""
    db = databases.make("load")
    seed_shop(db)
    env = {"TICKETING_SIMULATOR_INTERVAL": "0.1", "TICKETING_SIMULATOR_SEED": "8"}
    with engine_server(db, tmp_path / "uvicorn.log", simulator=True, extra_env=env, workers=workers) as (url, _p):

        def terminal(number: int) -> list[tuple[int, dict]]:
            with Api(url) as api:
                answers = []
                for n in range(TICKETS_EACH):
                    body = sample_body(token=SAMPLE_TOKEN, stake=stake_for(number, n), source="retail")
                    response = api.post_ticket(body, headers={"Idempotency-Key": f"t{number}-{n}"})
                    answers.append((response.status_code, response.json()))
                return answers

        with ThreadPoolExecutor(TERMINALS) as pool:
            answers = [a for result in pool.map(terminal, range(TERMINALS)) for a in result]

    statuses = Counter(status for status, _ in answers)
    assert statuses == {200: TERMINALS * TICKETS_EACH}, statuses
    tickets, balances = stored_tickets(db)
    by_id = {t.id: t for t in tickets}
    sold = [body for _, body in answers]
    assert len(by_id) == len(sold) == len({t["id"] for t in sold})
    assert len({t.code for t in tickets}) == len(tickets)
    for answered in sold:
        stored = by_id[answered["id"]]
        assert stored.code == answered["code"]
        assert (str(stored.stake), str(stored.payout), str(stored.tax)) == (
            f"{D(str(answered['stake'])):.2f}",
            f"{D(str(answered['payout'])):.2f}",
            f"{D(str(answered['tax'])):.2f}",
        )
        assert [(e.id, e.bet, f"{e.odds:.2f}") for e in stored.events] == [
            (e["id"], e["bet"], f"{D(str(e['odds'])):.2f}") for e in answered["events"]
        ]
    spent = sum(D(stake_for(number, n)) for number in range(TERMINALS) for n in range(TICKETS_EACH))
    assert sum((t.stake for t in tickets), D(0)) == spent
    assert balances[SAMPLE_USER_ID] == SHOP_OPENING_BALANCE - spent


@pytest.mark.parametrize("writers", ["the server's", "one per worker"])
def test_two_terminals_racing_with_the_same_key_sell_once(databases, workers, writers, tmp_path):
    """Under `ticketing.serve` one writer sees every sale; under plain `uvicorn --workers 2` each worker's writer
    races the other's, and only the database's unique key stands between them and a second ticket."""
    if writers == "one per worker" and workers == 1:
        pytest.skip("one worker has one writer")
    command = [sys.executable, "-m", "uvicorn", "ticketing.api:app", "--host", "127.0.0.1"]
    db = databases.make("race-key")
    seed_shop(db)
    server = engine_server(
        db, tmp_path / "uvicorn.log", workers=workers, command=command if writers == "one per worker" else None
    )
    with server as (url, _process):
        for round_ in range(10):
            barrier = threading.Barrier(4)

            def sell(_, key=f"raced-key-{round_}", barrier=barrier):
                with Api(url) as mine:
                    barrier.wait()
                    return mine.post_ticket(SAMPLE_REQUEST_TEXT, headers={"Idempotency-Key": key}).json()

            with ThreadPoolExecutor(4) as pool:
                answers = list(pool.map(sell, range(4)))
            assert len({a["id"] for a in answers}) == 1, answers
    tickets, balances = stored_tickets(db)
    assert len(tickets) == 10
    assert balances["1660986605374148608"] == D("10000000.00") - 10 * D("25.00")


def test_odds_race_never_prices_outside_the_tolerance_of_the_stored_moment(databases, tmp_path):
    """The feed moves coupon 455 as fast as it can while terminals sell at the odds they last saw, tolerance 0:
    every ticket sold carries exactly the odds it was sent with; the rest are refused with 102."""
    db = databases.make("race")
    seed_shop(db)
    with engine_server(db, tmp_path / "uvicorn.log") as (url, _process):
        stop = threading.Event()

        def feed():
            with Api(url) as api:
                step = 0
                while not stop.is_set():
                    step += 1
                    api.set_event("455", 390811 + step % 7, odds={"101": f"{2 + (step % 50) / 100:.2f}"})

        def terminal(_):
            sold = refused = 0
            with Api(url) as api:
                for _ in range(40):
                    coupon = api.coupon("455")
                    seen = [{"id": e["id"], "bet": 101, "odds": e["odds"]["101"]} for e in coupon["events"]]
                    response = api.post_ticket(sample_body(bets=None, events=seen, odds_diff=0))
                    if response.status_code == 200:
                        sold += 1
                        got = [(e["id"], e["odds"]) for e in response.json()["events"]]
                        assert got == [(e["id"], e["odds"]) for e in seen]
                    else:
                        assert response.json()["code"] == 102, response.text
                        refused += 1
            return sold, refused

        feeder = threading.Thread(target=feed)
        feeder.start()
        try:
            with ThreadPoolExecutor(4) as pool:
                results = list(pool.map(terminal, range(4)))
        finally:
            stop.set()
            feeder.join()
    assert sum(s for s, _ in results) > 0 and sum(r for _, r in results) > 0


def test_sigkill_mid_burst_loses_nothing_that_was_answered(databases, workers, tmp_path):
    db = databases.make("crash")
    tokens = seed_shop(db, players=4, balance=str(START_BALANCE))
    answered: list[dict] = []
    lock = threading.Lock()
    with engine_server(db, tmp_path / "uvicorn-1.log", workers=workers) as (url, process):
        stop = threading.Event()

        def terminal(number: int):
            with httpx.Client(base_url=url, timeout=5) as http:
                api = Api(url)
                api.http = http
                n = 0
                while not stop.is_set():
                    n += 1
                    try:
                        response = api.post_ticket(sample_body(token=tokens[number], stake="30"))
                    except httpx.TransportError:
                        return
                    if response.status_code == 200:
                        with lock:
                            answered.append(response.json())

        threads = [threading.Thread(target=terminal, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(answered) < 150 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        stop.set()
        for thread in threads:
            thread.join()
    assert len(answered) >= 150
    with engine_server(db, tmp_path / "uvicorn-2.log") as (url, _process):
        with Api(url) as api:
            for ticket in answered:
                again = api.ticket(ticket["code"])
                assert again.status_code == 200 and again.json() == ticket
    tickets, balances = stored_tickets(db)
    store = Store(database_url(str(db)))
    with store.read() as conn:
        orphans = conn.execute(
            text(
                "SELECT count(*) FROM tickets t"
                " WHERE (SELECT count(*) FROM ticket_events e WHERE e.ticket_id = t.id) != 7"
            )
        ).scalar()
    store.dispose()
    assert orphans == 0
    for number in range(4):
        user = f"77000000{number:04d}"
        spent = sum((t.stake for t in tickets if t.user_id == user), D(0))
        assert balances[user] == START_BALANCE - spent


# ---- forged and replayed requests ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(module_databases, tmp_path_factory):
    folder = tmp_path_factory.mktemp("guarded")
    db = module_databases.make("guarded")
    seed_shop(db, rival=True)
    with engine_server(db, folder / "uvicorn.log") as (url, _process):
        yield url, db, folder / "uvicorn.log"


def raw_post(url: str, body: bytes, headers: dict) -> httpx.Response:
    return httpx.post(f"{url}/be/tickets", content=body, headers=headers | {"content-type": "application/json"})


def test_forged_and_replayed_requests_are_refused_and_write_nothing(guarded):
    url, db, log = guarded
    body = SAMPLE_REQUEST_TEXT.encode()
    now = str(int(time.time()))
    old = str(int(time.time()) - 301)
    other_body = json.dumps(sample_body(stake=2500)).encode()
    rival_body = json.dumps(sample_body(token="rival-token")).encode()
    rival_as_rival = json.dumps(sample_body(operator="rival")).encode()
    cases = [
        (
            "replayed, timestamp over 5 minutes old",
            body,
            {"operator-name": "site", "timestamp": old, "signature": sign(DEMO_SITE_SECRET, old, body)},
            403,
            121,
        ),
        (
            "signature of another body",
            other_body,
            {"operator-name": "site", "timestamp": now, "signature": sign(DEMO_SITE_SECRET, now, body)},
            403,
            121,
        ),
        (
            "another operator's token",
            rival_body,
            {"operator-name": "site", "timestamp": now, "signature": sign(DEMO_SITE_SECRET, now, rival_body)},
            403,
            120,
        ),
        (
            "site's token sent by rival",
            rival_as_rival,
            {"operator-name": "rival", "timestamp": now, "signature": sign("RIVAL-SECRET", now, rival_as_rival)},
            403,
            120,
        ),
        (
            "signed by rival for site",
            body,
            {"operator-name": "site", "timestamp": now, "signature": sign("RIVAL-SECRET", now, body)},
            403,
            121,
        ),
        (
            "header operator differs from the body's",
            body,
            {"operator-name": "rival", "timestamp": now, "signature": sign("RIVAL-SECRET", now, body)},
            403,
            121,
        ),
        (
            "unknown operator",
            json.dumps(sample_body(operator="ghost")).encode(),
            {"operator-name": "ghost", "timestamp": now, "signature": "0" * 64},
            400,
            106,
        ),
    ]
    before, balances_before = stored_tickets(db)
    for name, sent, headers, status, code in cases:
        response = raw_post(url, sent, headers)
        assert (response.status_code, response.json()["code"]) == (status, code), name
    after, balances_after = stored_tickets(db)
    assert after == before and balances_after == balances_before
    assert SAMPLE_TOKEN not in log.read_text() and "rival-token" not in log.read_text()
    assert "12345ABCDE" not in log.read_text()


def test_tokens_and_secrets_never_in_responses(guarded):
    url, _db, _log = guarded
    with Api(url) as api:
        responses = [
            api.post_ticket(SAMPLE_REQUEST_TEXT),
            api.post_ticket(sample_body(token="x" * 40)),
            api.post_ticket(sample_body(stake=1.234)),
            api.request("GET", "/be/tickets", params={"limit": 100}),
            api.request("GET", "/be/operator"),
        ]
    for response in responses:
        assert SAMPLE_TOKEN not in response.text and "x" * 40 not in response.text
        assert DEMO_SITE_SECRET not in response.text and "RIVAL-SECRET" not in response.text


# ---- hostile input --------------------------------------------------------------------------------------------------


def test_huge_pick_lists_are_refused_fast(api):
    for body in (
        sample_body(bets=[101] * 5000),
        sample_body(bets=None, events=[{"id": 1, "bet": 101, "odds": 2}] * 900),
    ):
        started = time.perf_counter()
        response = api.post_ticket(body)
        assert response.status_code in (413, 422)
        assert time.perf_counter() - started < 1.0
    huge = b'{"bets": [' + b"101," * 200_000 + b"101]}"
    response = api.http.post("/be/tickets", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_body_over_64_kib_is_refused_without_a_content_length(api):
    def chunks():
        for _ in range(100):
            yield b" " * 1024

    response = api.http.post("/be/tickets", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["code"] == 91


def test_a_chunked_sale_over_64_kib_leaves_no_traceback_in_the_log(tmp_path):
    """The 413 was right, but the sale's lane then logged the client's disconnect as an unexpected error with its
    traceback: any client could fill the error log."""
    log = tmp_path / "uvicorn.log"
    with engine_server(tmp_path / "shop.sqlite3", log) as (url, _process), Api(url) as api:
        chunks = (b" " * 1024 for _ in range(100))
        response = api.http.post("/be/tickets", content=chunks, headers={"content-type": "application/json"})
        assert response.status_code == 413 and response.json()["code"] == 91
        assert api.http.get("/health").status_code == 200
    assert "Traceback" not in log.read_text() and "unexpected error" not in log.read_text()
