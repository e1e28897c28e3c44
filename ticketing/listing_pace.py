"""Ticket pages give way to sales: while sales are being made, a listing thread rests after each page.

A page of 500 tickets is ~13 ms of SQLite's C code on this machine. Four clients listing without pause kept both
listing threads busy and took a third of the sales, though the threads run at the lowest CPU priority: on a
virtual machine's two processors, work on one slows the other whatever its priority (README "Listing without
starving the sales"). So while a sale came in within the last second, each thread rests `REST_PER_CPU` times its
last page's CPU time before its next page: at most an eighth of a core a thread. With no sale coming in, pages are
listed at full speed.
"""

import threading
import time
from collections.abc import Callable
from typing import TypeVar

REST_PER_CPU = 7.0
"""Rest after a page, per second of CPU it took, while sales run: a page and its rest are an eighth of a core. With
four clients listing, the sales kept 0.81-0.94 of their rate alone, at 15-20 pages a second; a rest of 3 (a quarter
of a core) kept 0.66-0.78."""
SALES_RUNNING_SECONDS = 1.0
"""Sales count as running for this long after the last one came in."""

Page = TypeVar("Page")


class ListingPace:
    """Kept by the app: the sale lane tells it of each sale, the listing threads run their pages through it."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = time.thread_time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._clock, self._cpu_clock, self._sleep = clock, cpu_clock, sleep
        self._last_sale = float("-inf")
        self._thread = threading.local()

    def sale_came_in(self) -> None:
        self._last_sale = self._clock()

    def page(self, write_page: Callable[[], Page]) -> Page:
        """`write_page` on this thread, once the rest its last page earned is over if sales are running."""
        now = self._clock()
        rest_until = getattr(self._thread, "rest_until", now)
        if rest_until > now and now - self._last_sale < SALES_RUNNING_SECONDS:
            self._sleep(rest_until - now)
        started = self._cpu_clock()
        try:
            return write_page()
        finally:
            self._thread.rest_until = self._clock() + (self._cpu_clock() - started) * REST_PER_CPU
