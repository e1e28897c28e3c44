"""Ticket pages give way to sales (`ticketing/listing_pace.py`): while sales are running, each listing thread rests
seven times the CPU its last page took; with no sale coming in, pages are listed at full speed."""

import itertools
import threading

import httpx
import pytest

from tests.servers import server_in_this_process
from tests.support import SAMPLE_REQUEST_TEXT
from ticketing.access.betstack_signing import signed_headers
from ticketing.listing_pace import ListingPace
from ticketing.settings import DEMO_SITE_SECRET


class Clocks:
    """A listing thread's time: the wall clock, its CPU time, and the rests it was told to take."""

    def __init__(self):
        self.now = 100.0
        self.cpu = 0.0
        self.rests: list[float] = []

    def pace(self) -> ListingPace:
        return ListingPace(clock=lambda: self.now, cpu_clock=lambda: self.cpu, sleep=self.rest)

    def rest(self, seconds: float) -> None:
        self.rests.append(seconds)
        self.now += seconds

    def page_taking(self, cpu: float):
        def write_page() -> str:
            self.now += cpu
            self.cpu += cpu
            return "page"

        return write_page


def test_while_sales_run_the_next_page_waits_seven_times_the_cpu_the_last_one_took():
    clocks = Clocks()
    pace = clocks.pace()
    pace.sale_came_in()
    assert pace.page(clocks.page_taking(0.010)) == "page"
    pace.page(clocks.page_taking(0.010))
    assert clocks.rests == [pytest.approx(0.070)]


def test_time_between_pages_counts_as_rest():
    clocks = Clocks()
    pace = clocks.pace()
    pace.sale_came_in()
    pace.page(clocks.page_taking(0.010))
    clocks.now += 0.050
    pace.sale_came_in()
    pace.page(clocks.page_taking(0.010))
    assert clocks.rests == [pytest.approx(0.020)]


def test_with_no_sale_in_the_last_second_pages_do_not_rest():
    clocks = Clocks()
    pace = clocks.pace()
    pace.sale_came_in()
    clocks.now += 1.0
    pace.page(clocks.page_taking(0.010))
    pace.page(clocks.page_taking(0.010))
    assert clocks.rests == []


def test_a_page_that_fails_still_earns_its_rest():
    clocks = Clocks()
    pace = clocks.pace()
    pace.sale_came_in()

    def failing_page():
        clocks.page_taking(0.010)()
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        pace.page(failing_page)
    pace.page(clocks.page_taking(0.010))
    assert clocks.rests == [pytest.approx(0.070)]


def test_each_listing_thread_rests_for_its_own_pages():
    clocks = Clocks()
    pace = clocks.pace()
    pace.sale_came_in()
    pace.page(clocks.page_taking(0.010))
    other = threading.Thread(target=pace.page, args=(clocks.page_taking(0.010),))
    other.start()
    other.join()
    assert clocks.rests == []


def test_over_http_a_sale_makes_the_pages_after_it_rest(tmp_path):
    """A seller's sale, not any post to the sale's path."""
    with server_in_this_process(tmp_path) as (port, app):
        rests: list[float] = []
        cpu_seconds = itertools.count()  # each reading a second after the last: every page takes seconds of CPU
        app.state.listing_pace = ListingPace(cpu_clock=lambda: float(next(cpu_seconds)), sleep=rests.append)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

            def list_pages() -> None:
                for _ in range(3):
                    headers = signed_headers("site", DEMO_SITE_SECRET)
                    page = client.get("/be/tickets", params={"limit": 5}, headers=headers)
                    assert page.status_code == 200

            list_pages()
            assert rests == [], "no sale yet: pages at full speed"
            body = SAMPLE_REQUEST_TEXT.encode()
            forged = client.post("/be/tickets", content=body, headers=signed_headers("site", "not the secret", body))
            assert forged.status_code == 403
            list_pages()
            assert rests == [], "a post nobody signed is no sale: it does not slow the lists"
            sale = client.post("/be/tickets", content=body, headers=signed_headers("site", DEMO_SITE_SECRET, body))
            assert sale.status_code == 200
            list_pages()
        assert rests and all(rest > 5 for rest in rests), rests
