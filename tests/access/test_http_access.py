"""The issue's findings, over real HTTP against `uvicorn ticketing.api:app` on 127.0.0.1: roles, owners, stronger
signatures, replays, strict Betstack bodies, and the credentials command."""

import json
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal as D

import httpx
import pytest
from sqlalchemy import func, select

from tests.servers import PROJECT_ROOT, engine_server
from tests.support import RIVAL_ADMIN, RIVAL_FEED, SAMPLE_REQUEST_TEXT, Api, sample_body, seed_shop, stored_tickets
from ticketing.access.betstack_signing import sign, timestamp_now
from ticketing.settings import (
    DEMO_ADMIN_KEY_ID,
    DEMO_ADMIN_SECRET,
    DEMO_FEED_KEY_ID,
    DEMO_FEED_SECRET,
    DEMO_SITE_SECRET,
)
from ticketing.storage import Store, database_url, request_signatures

EVENT = "/be/coupons/455/events/390811"


@pytest.fixture(scope="module")
def shop(module_databases, tmp_path_factory):
    folder = tmp_path_factory.mktemp("access")
    db = module_databases.make("access")
    seed_shop(db, rival=True)
    with engine_server(db, folder / "uvicorn.log") as (url, _process):
        yield url, db, folder / "uvicorn.log"


@pytest.fixture
def till(shop):
    with Api(shop[0]) as api:
        yield api


def feed_of(api: Api) -> Api:
    return api.as_credential(DEMO_FEED_KEY_ID, DEMO_FEED_SECRET)


def admin_of(api: Api) -> Api:
    return api.as_credential(DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET)


def rival(url: str, credential: tuple[str, str] | None = None) -> Api:
    return Api(url, "rival", "RIVAL-SECRET") if credential is None else Api(url, "rival", credential[1], credential[0])


def good_coupon(coupon_id: str) -> str:
    raw = json.loads((PROJECT_ROOT / "samples" / "good_coupon.json").read_text())
    return json.dumps(raw | {"id": coupon_id})


def send(url: str, method: str, target: str, body: bytes, headers: dict) -> httpx.Response:
    headers = headers | {"content-type": "application/json"}
    return httpx.request(method, f"{url}{target}", content=body or None, headers=headers)


# ---- roles -----------------------------------------------------------------------------------------------------------


def claims(db) -> int:
    store = Store(database_url(str(db)))
    try:
        with store.read() as conn:
            return conn.execute(select(func.count()).select_from(request_signatures)).scalar()
    finally:
        store.dispose()


def test_a_till_key_cannot_rig_its_own_ticket(shop, till):
    """The finding: the till's key set odds 1000 on every event and sold itself a 5,000,000.00 payout for 25.00.
    Refused before anything is written, the claim of its signature included."""
    url, db, _log = shop
    before, claimed = till.coupon("455"), claims(db)
    rig = json.dumps({"odds": {"101": 1000}}).encode()
    betstack_style = {"operator-name": "site", **_betstack(DEMO_SITE_SECRET, rig)}
    assert send(url, "PUT", EVENT, rig, betstack_style).status_code == 403
    refused = till.request("PUT", EVENT, rig)
    assert (refused.status_code, refused.json()["code"]) == (403, 122)
    suspend = till.request("PUT", EVENT, json.dumps({"status": "suspended"}))
    assert (suspend.status_code, suspend.json()["code"]) == (403, 122)
    republish = till.request("POST", "/be/coupons", good_coupon("455"))
    assert (republish.status_code, republish.json()["code"]) == (403, 122)
    assert till.coupon("455") == before and claims(db) == claimed


def _betstack(secret: str, body: bytes) -> dict:
    timestamp = timestamp_now()
    return {"timestamp": timestamp, "signature": sign(secret, timestamp, body)}


def test_a_feed_moves_odds_and_an_admin_publishes_but_neither_sells(shop, till):
    feed, admin = feed_of(till), admin_of(till)
    moved = feed.request("PUT", EVENT, json.dumps({"odds": {"102": 3.33}}))
    assert moved.status_code == 200 and moved.json()["odds"]["102"] == 3.33
    assert feed.request("POST", "/be/coupons", good_coupon("FEED-1")).json()["code"] == 122
    assert admin.request("POST", "/be/coupons", good_coupon("ADMIN-1")).status_code == 200
    for other in (feed, admin):
        sale = other.post_ticket(SAMPLE_REQUEST_TEXT)
        assert (sale.status_code, sale.json()["code"]) == (403, 122)
        assert other.request("GET", "/be/tickets").json()["code"] == 122


def test_an_operator_without_a_betstack_key_can_do_nothing_with_its_name_alone(shop):
    url, db, _log = shop
    before = stored_tickets(db)
    for method, target, body in (
        ("PUT", EVENT, b'{"odds":{"101":1000}}'),
        ("POST", "/be/tickets", json.dumps(sample_body(operator="keyless")).encode()),
        ("GET", "/be/coupons", b""),
    ):
        response = send(url, method, target, body, {"operator-name": "keyless"})
        assert (response.status_code, response.json()["code"]) == (403, 121), target
    assert stored_tickets(db) == before


def test_a_revoked_or_unknown_key_id_is_refused(shop, till):
    for key_id in ("no-such-key", RIVAL_FEED[0], "bad key id", "x" * 65):
        response = till.as_credential(key_id, DEMO_FEED_SECRET).request("GET", "/be/coupons/455")
        assert (response.status_code, response.json()["code"]) == (403, 121), key_id


def test_the_credential_endpoint_names_the_role_and_never_the_secret(shop, till):
    for api, role in ((till, "till"), (feed_of(till), "feed"), (admin_of(till), "admin")):
        response = api.request("GET", "/be/credential")
        assert response.json()["role"] == role and api.secret not in response.text


# ---- owners ----------------------------------------------------------------------------------------------------------


def test_another_operator_cannot_see_sell_change_or_take_over_site_coupons(shop, till):
    url, db, _log = shop
    before = till.coupon("455")
    with rival(url) as rival_till, rival(url, RIVAL_FEED) as rival_feed, rival(url, RIVAL_ADMIN) as rival_admin:
        assert rival_till.request("GET", "/be/coupons/455").status_code == 404
        assert "455" not in [c["id"] for c in rival_till.request("GET", "/be/coupons").json()]
        moved = rival_feed.request("PUT", EVENT, json.dumps({"odds": {"101": 1000}}))
        assert (moved.status_code, moved.json()["code"]) == (404, 113)
        taken = rival_admin.request("POST", "/be/coupons", good_coupon("455"))
        assert (taken.status_code, taken.json()["code"]) == (403, 122)
        sale = rival_till.post_ticket(sample_body(operator="rival", token="rival-token"))
        assert (sale.status_code, sale.json()["code"]) == (400, 103)
        published = rival_admin.request("POST", "/be/coupons", good_coupon("RIVAL-9"))
        assert published.status_code == 200
    assert till.request("GET", "/be/coupons/RIVAL-9").status_code == 404
    assert till.coupon("455") == before


# ---- stronger signatures -------------------------------------------------------------------------------------------


def test_a_put_signature_for_one_event_does_not_work_on_another(shop, till):
    url = shop[0]
    feed = feed_of(till)
    body = b'{"status":"suspended"}'
    headers = feed.signed("PUT", EVENT, body)
    other = send(url, "PUT", "/be/coupons/456/events/391001", body, headers)
    assert (other.status_code, other.json()["code"]) == (403, 121)
    assert till.coupon("456")["events"][0]["status"] == "available"


def test_one_get_signature_does_not_open_other_gets(shop, till):
    url = shop[0]
    headers = till.signed("GET", "/be/coupons/455")
    assert send(url, "GET", "/be/coupons/455", b"", headers).status_code == 200
    for target in ("/be/coupons/456", "/be/operator", "/be/coupons"):
        assert send(url, "GET", target, b"", headers).status_code == 403, target


@pytest.mark.parametrize(
    "body",
    [
        SAMPLE_REQUEST_TEXT.replace('"atag"', '"at ag"'),
        SAMPLE_REQUEST_TEXT.replace('"stake"', '"stake "'),
        SAMPLE_REQUEST_TEXT.replace('"atag": "afiliate-1"', '"atag": "afiliate-1", "partner 1": "x"'),
        SAMPLE_REQUEST_TEXT.replace('"atag": "afiliate-1"', '"atag": "afiliate-1", "price": 5000'),
        json.dumps(sample_body(bets=None, events=[{"id": 390811, "bet": 101, "odds": 2, "note": 1}] * 7)),
    ],
)
def test_betstack_bodies_with_unknown_keys_or_keys_with_spaces_are_422_and_sell_nothing(shop, till, body):
    before = stored_tickets(shop[1])
    response = till.post_ticket(body)
    assert (response.status_code, response.json()["code"]) == (422, 90), response.text
    assert stored_tickets(shop[1]) == before


def test_the_server_assigned_fields_the_contract_lists_are_still_ignored(shop, till):
    echoed = sample_body(id="6314704d686a9e8e5d68dca6", code="A12A42", tax=50000, payout=500000, status="new")
    echoed |= {"result": "pending", "approved": True, "user_id": "1", "created": "x", "updated": "y"}
    response = till.post_ticket(echoed)
    assert response.status_code == 200 and response.json()["code"] != "A12A42"


# ---- replays ---------------------------------------------------------------------------------------------------------


def test_a_replayed_sale_sells_once_with_or_without_its_idempotency_key(shop, till):
    url, db, _log = shop
    _before_tickets, balances = stored_tickets(db)
    body = SAMPLE_REQUEST_TEXT.encode()
    headers = {"operator-name": "site", **_betstack(DEMO_SITE_SECRET, body)}
    first = send(url, "POST", "/be/tickets", body, headers | {"Idempotency-Key": "till-1-draft-9"})
    replays = [
        send(url, "POST", "/be/tickets", body, headers),
        send(url, "POST", "/be/tickets", body, headers | {"Idempotency-Key": "another-key"}),
        send(url, "POST", "/be/tickets", body, headers | {"signature": headers["signature"].upper()}),
    ]
    assert first.status_code == 200
    assert [r.json() for r in replays] == [first.json()] * 3
    _tickets, after = stored_tickets(db)
    assert after["1660986605374148608"] == balances["1660986605374148608"] - D("25.00")


def test_a_replayed_management_request_is_403_and_changes_nothing(shop, till):
    url = shop[0]
    feed = feed_of(till)
    suspend = b'{"status":"suspended"}'
    headers = feed.signed("PUT", EVENT, suspend)
    assert send(url, "PUT", EVENT, suspend, headers).status_code == 200
    assert feed.request("PUT", EVENT, '{"status":"available"}').status_code == 200
    replayed = send(url, "PUT", EVENT, suspend, headers)
    assert (replayed.status_code, replayed.json()["code"]) == (403, 123)
    assert till.coupon("455")["events"][0]["status"] == "available"


def test_identical_management_writes_in_one_second_both_apply_when_signed_afresh(shop, till):
    """A feed moving odds 2.10 -> 2.15 -> 2.10 within a second: the third is no replay of the first."""
    feed = feed_of(till)
    for odds in ("2.10", "2.15", "2.10"):
        assert feed.request("PUT", EVENT, f'{{"odds":{{"101":{odds}}}}}').status_code == 200
    assert till.coupon("455")["events"][0]["odds"]["101"] == 2.1


# ---- secrets ---------------------------------------------------------------------------------------------------------


def test_secrets_never_appear_in_responses_or_the_server_log(shop, till):
    url, _db, log = shop
    answers = [
        feed_of(till).request("GET", "/be/credential"),
        admin_of(till).request("GET", "/be/operator"),
        till.as_credential(DEMO_ADMIN_KEY_ID, "wrong").request("GET", "/be/coupons"),
        till.request("PUT", EVENT, "{}"),
    ]
    for secret in (DEMO_SITE_SECRET, DEMO_FEED_SECRET, DEMO_ADMIN_SECRET, RIVAL_ADMIN[1], RIVAL_FEED[1]):
        assert all(secret not in answer.text for answer in answers)
        assert secret not in log.read_text()


# ---- several workers -------------------------------------------------------------------------------------------------


@pytest.fixture(params=[1, 2], ids=["1-worker", "2-workers"])
def workers(request, backend) -> int:
    if request.param > 1 and backend == "sqlite":
        pytest.skip("several uvicorn workers are for the PostgreSQL engine")
    return request.param


def test_replays_racing_across_workers_sell_once_and_move_once(databases, workers, tmp_path):
    db = databases.make("replays")
    seed_shop(db)
    with engine_server(db, tmp_path / "uvicorn.log", workers=workers) as (url, _process), Api(url) as till:
        feed = feed_of(till)
        for round_ in range(5):
            body = json.dumps(sample_body(stake=25 + round_)).encode()
            sale = {"operator-name": "site", **_betstack(DEMO_SITE_SECRET, body)}
            move = f'{{"odds":{{"101":{2 + round_ / 100:.2f}}}}}'.encode()
            management = feed.signed("PUT", EVENT, move)
            start = threading.Barrier(8)

            def fire(n: int, body=body, sale=sale, move=move, management=management, start=start):
                start.wait()
                if n % 2:
                    return send(url, "POST", "/be/tickets", body, sale)
                return send(url, "PUT", EVENT, move, management)

            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(fire, range(8)))
            sales = [a.json()["id"] for n, a in enumerate(answers) if n % 2]
            assert len(set(sales)) == 1, sales
            moves = Counter(a.status_code for n, a in enumerate(answers) if not n % 2)
            assert moves == {200: 1, 403: 3}, moves
    tickets, balances = stored_tickets(db)
    assert len(tickets) == 5
    assert balances["1660986605374148608"] == D("10000000.00") - sum(D(25 + n) for n in range(5))


# ---- the credentials command -----------------------------------------------------------------------------------------


def admin_command(db, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ticketing.admin", *args],
        cwd=PROJECT_ROOT,
        env={"TICKETING_DB": str(db), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_credential_made_by_the_command_works_for_its_role_until_revoked(shop, till):
    url, db, _log = shop
    create = ("create", "--operator", "site", "--role", "feed", "--key-id", "site-feed-cli")
    made = admin_command(db, *create)
    assert made.returncode == 0, made.stderr
    secret = dict(line.split(": ", 1) for line in made.stdout.splitlines())["secret"]
    cli_feed = till.as_credential("site-feed-cli", secret)
    assert cli_feed.request("PUT", EVENT, '{"status":"available"}').status_code == 200
    assert cli_feed.request("POST", "/be/coupons", good_coupon("CLI-1")).json()["code"] == 122
    listed = admin_command(db, "list", "--operator", "site")
    assert "site-feed-cli\tsite\tfeed" in listed.stdout and secret not in listed.stdout
    assert admin_command(db, *create).returncode == 1
    assert admin_command(db, "create", "--operator", "ghost", "--role", "feed").returncode == 1
    assert admin_command(db, "create", "--operator", "site", "--role", "boss").returncode == 2
    # The operator's own name is its Betstack key's till: a till of that name would share its shift and cancels.
    named_as_the_operator = admin_command(db, "create", "--operator", "site", "--role", "till", "--key-id", "site")
    assert named_as_the_operator.returncode == 2 and "operator's own till" in named_as_the_operator.stderr
    assert admin_command(db, "revoke", "site-feed-cli").returncode == 0
    refused = cli_feed.request("PUT", EVENT, '{"status":"available"}')
    assert (refused.status_code, refused.json()["code"]) == (403, 121)
    assert admin_command(db, "revoke", "site-feed-cli").returncode == 1


def test_a_named_till_credential_sells_with_betstack_signatures_and_its_key_id(shop, till):
    url, db, _log = shop
    made = admin_command(db, "create", "--operator", "site", "--role", "till", "--key-id", "site-till-7")
    secret = dict(line.split(": ", 1) for line in made.stdout.splitlines())["secret"]
    till_7 = till.as_credential("site-till-7", secret)
    # A till's sale on the shop's account is cash in its drawer, whatever source it names: counted in its open shift.
    refused = till_7.post_ticket(SAMPLE_REQUEST_TEXT)
    assert (refused.status_code, refused.json()["code"]) == (400, 134), refused.text
    opened = till_7.request("POST", "/be/shifts", '{"float": "100.00"}')
    assert opened.status_code == 200, opened.text
    sold = till_7.post_ticket(SAMPLE_REQUEST_TEXT)
    assert sold.status_code == 200, sold.text
    assert till_7.request("GET", "/be/shifts/current").json()["stakes_count"] == 1
    assert till_7.ticket(sold.json()["code"]).json() == sold.json()
    with_site_key = till.as_credential("site-till-7", DEMO_SITE_SECRET).post_ticket(SAMPLE_REQUEST_TEXT)
    assert (with_site_key.status_code, with_site_key.json()["code"]) == (403, 121)
