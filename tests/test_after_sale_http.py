"""A whole round over HTTP, on SQLite and PostgreSQL: an admin publishes a coupon that closes in seconds, tills sell
on it, the admin enters the results (the last one settles), two tills race to pay the same winner (one payout), the
shift balances; every role refusal answers 403 and writes nothing."""

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from tests.servers import engine_server
from tests.support import RIVAL_ADMIN, Api, sample_body, sample_file, seed_shop
from ticketing.access.credentials import seed_credential
from ticketing.access.roles import Role
from ticketing.embedded import open_engine
from ticketing.settings import DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET, DEMO_FEED_KEY_ID, DEMO_FEED_SECRET, Settings

TILLS = {"till-a": "TILL-A-SECRET", "till-b": "TILL-B-SECRET"}


@pytest.fixture
def round_server(databases, tmp_path):
    db = databases.make("round")
    seed_shop(db, rival=True)
    engine = open_engine(Settings(database=str(db), simulator=False))
    with engine.store.write() as conn:
        for key_id, secret in TILLS.items():
            seed_credential(conn, key_id, "site", Role.TILL, secret, datetime.now(UTC))
    engine.close()
    with engine_server(db, tmp_path / "uvicorn.log") as (url, _process):
        yield url


def credential(api: Api, key_id: str, secret: str) -> Api:
    return api.as_credential(key_id, secret)


def ok(response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json()


def test_a_whole_round_sold_settled_and_paid_once_over_http(round_server):
    with Api(round_server) as api:
        admin = credential(api, DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET)
        feed = credential(api, DEMO_FEED_KEY_ID, DEMO_FEED_SECRET)
        tills = {key_id: credential(api, key_id, secret) for key_id, secret in TILLS.items()}
        till_a = tills["till-a"]
        closes_in = timedelta(seconds=4)
        coupon = json.loads(sample_file("good_coupon.json", datetime.now(UTC), closes_in)) | {"id": "ROUND-1"}
        ok(admin.request("POST", "/be/coupons", json.dumps(coupon)))
        for till in tills.values():
            ok(till.request("POST", "/be/shifts", json.dumps({"float": 100000})))
        winner = ok(till_a.post_ticket(sample_body(coupon_id="ROUND-1", stake=50, bets=[101] * 13)))
        loser = ok(till_a.post_ticket(sample_body(coupon_id="ROUND-1", stake=60, bets=[102] * 13)))
        events = [e["id"] for e in ok(admin.request("GET", "/be/coupons/ROUND-1"))["events"]]

        early = admin.request("PUT", f"/be/coupons/ROUND-1/events/{events[0]}/result", '{"result": "1"}')
        assert (early.status_code, early.json()["code"]) == (400, 130)
        time.sleep(closes_in.total_seconds() + 0.5)

        for who in (till_a, feed):
            refused = who.request("PUT", f"/be/coupons/ROUND-1/events/{events[0]}/result", '{"result": "1"}')
            assert (refused.status_code, refused.json()["code"]) == (403, 122)
        waiting = till_a.request("POST", f"/be/tickets/{winner['code']}/payout")
        assert (waiting.status_code, waiting.json()["reason"]) == (400, "waiting")
        summary = None
        for event_id in events:
            path = f"/be/coupons/ROUND-1/events/{event_id}/result"
            summary = ok(admin.request("PUT", path, '{"result": "1"}'))
        assert (summary["status"], summary["winners"], summary["losers"]) == ("resulted", 1, 1)
        settled = ok(till_a.request("GET", f"/be/tickets/{winner['code']}"))
        assert settled["status"] == "resulted" and settled["settlement"]["net_payout"] == winner["net_payout"]

        for who in (admin, feed):
            refused = who.request("POST", f"/be/tickets/{winner['code']}/payout")
            assert (refused.status_code, refused.json()["code"]) == (403, 122)
        rival = Api(round_server, "rival", RIVAL_ADMIN[1], RIVAL_ADMIN[0])
        rival_till = Api(round_server, "rival", "RIVAL-SECRET")
        try:
            assert rival_till.request("POST", f"/be/tickets/{winner['code']}/payout").status_code == 404
            assert rival.request(
                "PUT", f"/be/coupons/ROUND-1/events/{events[0]}/result", '{"result": "2"}'
            ).status_code in (403, 404)
        finally:
            rival.close()
            rival_till.close()
        assert ok(admin.request("GET", "/be/coupons/ROUND-1/settlement"))["winners"] == 1, "nothing changed"

        # The winner is owed more than a drawer holds: refused (the drawer's count in the answer) until cash from the
        # safe is added to the shift; an admin or the feed cannot add any.
        short = till_a.request("POST", f"/be/tickets/{winner['code']}/payout")
        assert (short.status_code, short.json()["code"], short.json()["holds"]) == (400, 138, 100110.00), short.text
        added = json.dumps({"amount": winner["net_payout"]})
        for who in (admin, feed):
            assert who.request("POST", "/be/shifts/current/cash", added).status_code == 403
        for till in tills.values():
            assert ok(till.request("POST", "/be/shifts/current/cash", added))["cash_added_count"] == 1

        barrier = threading.Barrier(2)

        def pay(key_id):
            barrier.wait()
            return tills[key_id].request("POST", f"/be/tickets/{winner['code']}/payout")

        answers = []
        threads = [threading.Thread(target=lambda k=k: answers.append(pay(k))) for k in TILLS]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        paid = [a for a in answers if a.status_code == 200]
        refused = [a for a in answers if a.status_code != 200]
        assert len(paid) == 1 and [(a.status_code, a.json()["code"]) for a in refused] == [(400, 131)]
        payer = paid[0].json()["record"]["till"]
        assert f"by {payer}" in refused[0].json()["message"]
        lost = till_a.request("POST", f"/be/tickets/{loser['code']}/payout")
        assert (lost.status_code, lost.json()["reason"]) == (400, "lost")

        closed = ok(tills[payer].request("POST", "/be/shifts/current/close", json.dumps({"counted": 0})))
        stakes = D("110.00") if payer == "till-a" else D("0.00")
        expected = D("100000.00") + stakes + D(str(winner["net_payout"])) - D(str(winner["net_payout"]))
        assert D(str(closed["expected"])) == expected
        assert D(str(closed["difference"])) == -expected
