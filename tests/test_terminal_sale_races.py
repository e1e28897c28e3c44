"""A second click or rerun while a sale is in flight, in headless Chromium against `streamlit run streamlit_app.py`.

A sale takes milliseconds: a double click's second click reaches Streamlit with the first, and Streamlit merges the
two before any of our code runs. Here the terminal sells in remote mode through a proxy that holds each sale until
the test lets it go, so the second click or rerun meets the sale in flight, as on a slow network."""

import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser import choose_pick, open_app, sold_code, wait_for_app, widget
from tests.servers import engine_server, terminal_server
from ticketing.client import TicketingClient
from ticketing.contract.models import EventUpdate, TicketQuery
from ticketing.settings import DEMO_FEED_KEY_ID, DEMO_FEED_SECRET, DEMO_SITE_SECRET

pytestmark = pytest.mark.browser


class SaleHoldingProxy:
    """Forwards everything to the engine API; while `holding`, each sale (`POST /be/tickets`) waits for `release`.

    `sales` records the Idempotency-Key of every sale that reached it, in order."""

    def __init__(self, engine_url: str):
        self.sales: list[str | None] = []
        self.arrived = threading.Condition()
        self.released = threading.Event()
        self.released.set()
        forward = httpx.Client(base_url=engine_url, timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.command == "POST" and self.path == "/be/tickets":
                    with proxy.arrived:
                        proxy.sales.append(self.headers.get("idempotency-key"))
                        proxy.arrived.notify_all()
                    proxy.released.wait()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = forward.request(self.command, self.path, content=body or None, headers=headers)
                self.send_response(answer.status_code)
                self.send_header("content-type", answer.headers.get("content-type", "application/json"))
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = forward

            def log_message(self, *_args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._forward = forward
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def hold(self) -> None:
        self.sales.clear()
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def wait_for_sales(self, count: int) -> None:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.sales) >= count, timeout=30), self.sales

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._forward.close()


@pytest.fixture(scope="module")
def slow_sales(tmp_path_factory):
    """A remote-mode terminal whose sales go through a `SaleHoldingProxy`; yields its URL, the proxy and a client
    straight to the engine (for the test's own reads and odds changes)."""
    folder = tmp_path_factory.mktemp("slow-sales")
    with engine_server(folder / "engine.sqlite3", folder / "uvicorn.log") as (api_url, _engine):
        proxy = SaleHoldingProxy(api_url)
        env = {"TICKETING_API_URL": proxy.url}
        try:
            with (
                terminal_server(folder / "unused.sqlite3", folder / "streamlit.log", env) as (url, _terminal),
                TicketingClient(api_url, "site", DEMO_SITE_SECRET) as engine,
                TicketingClient(api_url, "site", DEMO_FEED_SECRET, DEMO_FEED_KEY_ID) as feed,
            ):
                yield url, proxy, engine, feed
        finally:
            proxy.close()


def open_slip_with_every_pick(browser, url: str, engine: TicketingClient):
    page = open_app(browser, url)
    for event in engine.get_coupon("455").events:
        choose_pick(page, widget(page, f"pick-{event.id}-101").locator("button"))
    wait_for_app(page)
    return page


def all_tickets(engine: TicketingClient) -> list[str]:
    return [ticket.code for ticket in engine.list_tickets(TicketQuery(limit=10000))]


def test_a_rerun_during_a_slow_sale_sells_the_draft_once(browser, slow_sales):
    """Any click outside the live slip reruns the whole page at once, beside the sale still running (Streamlit's
    `runner.fastReruns`); that run finds the slip still selling and sells it too. Both sales carry the draft's
    idempotency key, so the engine answers both with one ticket."""
    url, proxy, engine, feed = slow_sales
    before = all_tickets(engine)
    page = open_slip_with_every_pick(browser, url, engine)
    proxy.hold()
    widget(page, "sell").locator("button").click()
    proxy.wait_for_sales(1)
    page.get_by_role("button", name="Player account").click()  # draws the token field: picks and stake unchanged
    proxy.wait_for_sales(2)
    proxy.release()
    code = sold_code(page)
    wait_for_app(page)
    assert all_tickets(engine) == [code, *before]


def test_a_click_on_sell_while_selling_is_not_sent_so_a_refused_sale_stops_at_the_prompt(browser, slow_sales):
    """While the sale is in flight the Sell button is disabled, so a second click never reaches the server. Were it
    sent, it would sell the slip again once the first sale was refused, before the cashier saw why."""
    url, proxy, engine, feed = slow_sales
    page = open_slip_with_every_pick(browser, url, engine)
    sell = widget(page, "sell").locator("button")
    proxy.hold()
    sell.click()
    proxy.wait_for_sales(1)
    event = engine.get_coupon("455").events[0]
    feed.update_event("455", event.id, EventUpdate(odds={101: event.odds[101] + Decimal("0.50")}))
    expect(sell).to_contain_text("Selling…")
    sell.click(force=True)
    # Nothing can be awaited when the click is (rightly) not sent: this is the time a sent one takes to arrive.
    page.wait_for_timeout(500)
    proxy.release()
    expect(page.get_by_role("dialog")).to_contain_text("Odds changed")
    wait_for_app(page)
    assert len(proxy.sales) == 1
