"""Ticket pages give way to sales: while sales are being made, a listing thread rests after each page.

A page of 500 tickets is ~13 ms of SQLite's C code on this machine. Four clients listing without pause kept both
listing threads busy and took a third of the sales, though the threads run at the lowest CPU priority: on a
virtual machine's two processors, work on one slows the other whatever its priority (README "Listing without
starving the sales"). So while a sale came in within the last second, each thread rests `REST_PER_PAGE_SECOND`
times its last page's time before its next page: busy an eighth of the time at most. With no sale coming in, pages
are listed at full speed.

The page's time is its wall-clock time, not its CPU time: on PostgreSQL the page is written by the database's
own process, and on a busy machine a page that waited for the CPU earns a longer rest, which is when it is due.
"""

import threading
import time
from collections.abc import Callable
from typing import TypeVar

REST_PER_PAGE_SECOND = 7.0
"""Rest after a page, per second the page took, while sales run: a page and its rest are an eighth of a thread's
time. With four clients listing, the sales kept 0.86-0.99 of their rate alone, at 11-16 pages a second; a rest of 3
times the page's CPU (a quarter of a core) kept 0.66-0.78."""
LONGEST_REST_SECONDS = 1.0
"""A slow page (a filter that reads a large operator's whole history) still rests at most this long."""
SALES_RUNNING_SECONDS = 1.0
"""Sales count as running for this long after the last one came in."""
REST_STEP_SECONDS = 0.05
"""A rest is taken in steps, and ends early once sales have stopped."""

Page = TypeVar("Page")


class ListingPace:
    """Kept by the app: the sale lane tells it of each sale, the listing threads run their pages through it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._clock, self._sleep = clock, sleep
        self._last_sale = float("-inf")
        self._thread = threading.local()

    def sale_came_in(self) -> None:
        self._last_sale = self._clock()

    def page(self, write_page: Callable[[], Page]) -> Page:
        """`write_page` on this thread, once the rest its last page earned is over or sales have stopped."""
        self._rest(getattr(self._thread, "rest_until", 0.0))
        started = self._clock()
        try:
            return write_page()
        finally:
            ended = self._clock()
            self._thread.rest_until = ended + min((ended - started) * REST_PER_PAGE_SECOND, LONGEST_REST_SECONDS)

    def _rest(self, until: float) -> None:
        while (now := self._clock()) < until and now - self._last_sale < SALES_RUNNING_SECONDS:
            self._sleep(min(until - now, REST_STEP_SECONDS))
