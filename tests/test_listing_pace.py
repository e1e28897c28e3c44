"""Ticket pages give way to sales (`ticketing/listing_pace.py`): while sales are running, each listing thread rests
seven times as long as its last page took, a second at most; with no sale coming in, pages are listed at full
speed."""

import itertools
import threading

import httpx
import pytest

from tests.servers import server_in_this_process
from tests.support import SAMPLE_REQUEST_TEXT
from ticketing.access.betstack_signing import signed_headers
from ticketing.listing_pace import ListingPace
from ticketing.settings import DEMO_SITE_SECRET


class Clock:
    """A listing thread's time, and the rests it was told to take."""

    def __init__(self):
        self.now = 100.0
        self.rests: list[float] = []

    def pace(self) -> ListingPace:
        return ListingPace(clock=lambda: self.now, sleep=self.rest)

    def rest(self, seconds: float) -> None:
        self.rests.append(seconds)
        self.now += seconds

    def page_taking(self, seconds: float, sales: ListingPace | None = None):
        """A page; with `sales`, a sale comes in as it ends."""

        def write_page() -> str:
            self.now += seconds
            if sales is not None:
                sales.sale_came_in()
            return "page"

        return write_page

    def rested(self) -> float:
        return sum(self.rests)


def test_while_sales_run_the_next_page_waits_seven_times_as_long_as_the_last_one_took():
    clock = Clock()
    pace = clock.pace()
    pace.sale_came_in()
    assert pace.page(clock.page_taking(0.010)) == "page"
    pace.page(clock.page_taking(0.010))
    assert clock.rested() == pytest.approx(0.070)


def test_time_between_pages_counts_as_rest():
    clock = Clock()
    pace = clock.pace()
    pace.page(clock.page_taking(0.010))
    clock.now += 0.050
    pace.sale_came_in()
    pace.page(clock.page_taking(0.010))
    assert clock.rested() == pytest.approx(0.020)


def test_with_no_sale_in_the_last_second_pages_do_not_rest():
    clock = Clock()
    pace = clock.pace()
    pace.sale_came_in()
    clock.now += 1.0
    pace.page(clock.page_taking(0.010))
    pace.page(clock.page_taking(0.010))
    assert clock.rests == []


def test_a_slow_page_rests_a_second_at_most_and_the_rest_ends_when_sales_stop():
    """A filter that reads a large operator's whole history took 2 s: its rest is 1 s, not 14; and a rest owed ends
    when the sales stop counting, a second after the last one."""
    clock = Clock()
    pace = clock.pace()
    pace.sale_came_in()
    pace.page(clock.page_taking(2.0, sales=pace))
    pace.page(clock.page_taking(0.010))
    assert clock.rested() == pytest.approx(1.0)
    assert max(clock.rests) <= 0.05, "a rest is taken in steps, each one looking whether sales still run"

    clock = Clock()
    pace = clock.pace()
    pace.sale_came_in()
    pace.page(clock.page_taking(0.5))  # owes a second's rest; the sales stop counting half a second after it
    pace.page(clock.page_taking(0.010))
    assert clock.rested() == pytest.approx(0.5, abs=0.05)  # within a step


def test_a_page_that_fails_still_earns_its_rest():
    clock = Clock()
    pace = clock.pace()
    pace.sale_came_in()

    def failing_page():
        clock.page_taking(0.010)()
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        pace.page(failing_page)
    pace.page(clock.page_taking(0.010))
    assert clock.rested() == pytest.approx(0.070)


def test_each_listing_thread_rests_for_its_own_pages():
    clock = Clock()
    pace = clock.pace()
    pace.sale_came_in()
    pace.page(clock.page_taking(0.010))
    other = threading.Thread(target=pace.page, args=(clock.page_taking(0.010),))
    other.start()
    other.join()
    assert clock.rests == []


def test_over_http_a_sale_makes_the_pages_after_it_rest(tmp_path):
    """A seller's sale, not any post to the sale's path."""
    with server_in_this_process(tmp_path) as (port, app):
        rests: list[float] = []
        ticks = itertools.count()  # each reading 10 ms after the last: every page takes 10 ms and earns 70 ms of rest
        app.state.listing_pace = ListingPace(clock=lambda: next(ticks) / 100, sleep=rests.append)
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
        assert rests, "the pages after the sale rested"
