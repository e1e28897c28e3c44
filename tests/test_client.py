"""`ticketing.client` against a real server: the same typed results and typed errors as the in-process engine."""

from decimal import Decimal as D

import httpx
import pytest

from terminal_ui.connection import Connection
from tests.support import SITE_ADMIN, sample_request, stored_tickets
from ticketing.client import TicketingClient
from ticketing.contract.errors import (
    EngineUnavailable,
    EventNotAvailable,
    InvalidSignature,
    InvalidToken,
    NotAllowed,
    OddsChanged,
)
from ticketing.contract.models import EventStatus, EventUpdate, Ticket, TicketQuery
from ticketing.demo.data import SAMPLE_TOKEN, SAMPLE_USER_ID
from ticketing.settings import (
    DEMO_ADMIN_KEY_ID,
    DEMO_ADMIN_SECRET,
    DEMO_FEED_KEY_ID,
    DEMO_FEED_SECRET,
    DEMO_SITE_SECRET,
)
from ticketing.terminal_settings import TerminalSettings


@pytest.fixture(scope="module")
def client(api_url):
    with_client = TicketingClient(api_url, "site", DEMO_SITE_SECRET)
    yield with_client
    with_client.close()


@pytest.fixture(scope="module")
def feed(api_url):
    with_client = TicketingClient(api_url, "site", DEMO_FEED_SECRET, DEMO_FEED_KEY_ID)
    yield with_client
    with_client.close()


def test_same_typed_ticket_from_client_and_lookup(client):
    ticket = client.create_ticket(sample_request(), idempotency_key="client-1")
    assert isinstance(ticket, Ticket) and isinstance(ticket.payout, D)
    assert client.get_ticket(ticket.code) == ticket
    assert client.get_ticket(ticket.code.lower()) == ticket
    assert client.create_ticket(sample_request(), idempotency_key="client-1") == ticket
    assert ticket in client.list_tickets(TicketQuery(limit=50))


def test_typed_errors(client, feed):
    with pytest.raises(InvalidToken):
        client.create_ticket(sample_request(token="nobody"))
    feed.update_event("455", 390812, EventUpdate(status=EventStatus.STARTED))
    try:
        with pytest.raises(EventNotAvailable, match="390812"):
            client.create_ticket(sample_request())
    finally:
        feed.update_event("455", 390812, EventUpdate(status=EventStatus.AVAILABLE))
    coupon = client.get_coupon("455")
    events = [{"id": e.id, "bet": 103, "odds": e.odds[103] + D("0.50")} for e in coupon.events]
    with pytest.raises(OddsChanged) as raised:
        client.create_ticket(sample_request(bets=None, events=events))
    assert len(raised.value.details["events"]) == 7
    assert raised.value.details["events"][0]["current_odds"] == coupon.events[0].odds[103]


def test_wrong_secret_is_typed_403(api_url):
    with TicketingClient(api_url, "site", "wrong") as bad:
        with pytest.raises(InvalidSignature):
            bad.list_open_coupons()


def test_engine_down_is_engine_unavailable():
    down = TicketingClient("http://127.0.0.1:9", "site", DEMO_SITE_SECRET, timeout=1, retries=0)
    with pytest.raises(EngineUnavailable):
        down.list_open_coupons()


def test_retry_after_a_timeout_sells_once_and_debits_once(api_server):
    """The first attempt reaches the engine but the answer is lost; the retry with the same key gets the ticket."""
    api_url, database = api_server
    calls = []

    class LoseFirstAnswer(httpx.HTTPTransport):
        def handle_request(self, request):
            response = super().handle_request(request)
            calls.append(request.url.path)
            if len(calls) == 1:
                response.read()
                raise httpx.ReadTimeout("answer lost", request=request)
            return response

    flaky = TicketingClient(api_url, "site", DEMO_SITE_SECRET, transport=LoseFirstAnswer())
    balance = TicketingClient(api_url, "site", DEMO_SITE_SECRET)
    before = len(balance.list_tickets(TicketQuery(limit=10000)))
    balance_before = stored_tickets(database)[1][SAMPLE_USER_ID]
    ticket = flaky.create_ticket(sample_request(token=SAMPLE_TOKEN), idempotency_key="lost-answer-1")
    assert calls == ["/be/tickets", "/be/tickets"]
    tickets = balance.list_tickets(TicketQuery(limit=10000))
    assert len(tickets) == before + 1 and tickets[0] == ticket
    assert stored_tickets(database)[1][SAMPLE_USER_ID] == balance_before - ticket.stake


def test_a_till_client_cannot_move_odds_and_the_error_is_typed(client):
    with pytest.raises(NotAllowed):
        client.update_event("455", 390812, EventUpdate(status=EventStatus.SUSPENDED))
    assert client.get_coupon("455").events[1].status == EventStatus.AVAILABLE


def test_a_remote_terminal_signs_in_once_the_engine_accepts_the_credential(api_url, client):
    conn = Connection(TerminalSettings(api_url=api_url), client, None)
    actor, admin = conn.sign_in(DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET)
    assert actor == SITE_ADMIN and admin.whoami() == SITE_ADMIN
    with pytest.raises(InvalidSignature):
        conn.sign_in(DEMO_ADMIN_KEY_ID, DEMO_FEED_SECRET)


def test_the_open_shift_without_its_operations_has_all_its_figures(client):
    """The payout screen asks for the till's open shift without its list of cash operations (~50 ms to read at 2,000
    of them): every figure is there, the list empty; the shift page still gets the list."""
    client.create_ticket(sample_request())  # a stake in the demo till's open shift
    whole, figures = client.current_shift(), client.current_shift(operations=False)
    assert whole is not None and whole.operations, "no operations to leave out: proves nothing"
    assert figures.operations == []
    assert figures.model_copy(update={"operations": whole.operations}) == whole
