"""Headless Debian Chromium driven by Playwright, waiting for the app the way Streamlit's own e2e suite does."""

import re
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APP_IDLE = '[data-testid="stApp"][data-test-connection-state="CONNECTED"][data-test-script-state="notRunning"]'


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


WATCH_SCRIPT_RUNS = """() => {
    window.__runs = [];
    const app = document.querySelector('[data-testid="stApp"]');
    let started = null;
    new MutationObserver(() => {
        const state = app.getAttribute('data-test-script-state');
        if (state === 'running' && started === null) started = performance.now();
        if (state === 'notRunning' && started !== null) {
            window.__runs.push(performance.now() - started);
            started = null;
        }
    }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
"""Installs a timer of script runs in the page: `window.__runs` collects each run's milliseconds (benchmarks)."""


def wait_for_app(page: Page, timeout: float = 30_000) -> None:
    """Connected to the server and no script run under way (health was checked before the page opened)."""
    page.wait_for_selector(APP_IDLE, timeout=timeout)


def open_app(browser: Browser, url: str, ready: str = ".st-key-sell") -> Page:
    """Open the app and wait until its first run has drawn `ready` (the last widget of the sell page)."""
    page = browser.new_page(viewport={"width": 1500, "height": 1200})
    page.goto(url)
    page.wait_for_selector(ready, timeout=30_000)
    wait_for_app(page)
    return page


def widget(page: Page, key: str):
    """Streamlit puts `st-key-<key>` on the container of a widget created with `key=`."""
    return page.locator(f".st-key-{key}")


def pick_buttons(page: Page):
    return page.locator('[class*="st-key-pick-"] button')


def choose_pick(page: Page, button: Locator, attempts: int = 3) -> None:
    """Click a pick button and wait until it is lit, clicking again if the click was lost.

    CI twice saw a pick unlit after its click: Streamlit's page sent the click twice and the second toggle undid it,
    since mended (README, "Event grid"). This stays for tests about something else, as a cashier who sees the pick
    unlit clicks again. Before each click the last run is over, so a click that arrived late has lit the button by
    then and is not undone by a second one. Tests of clicking at a cashier's pace click directly."""
    for attempt in range(attempts):
        wait_for_app(page)
        if button.get_attribute("data-testid") == "stBaseButton-primary":
            return
        button.click()
        try:
            expect(button).to_have_attribute("data-testid", "stBaseButton-primary", timeout=10_000)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise


def choose_option(page: Page, key: str, name: re.Pattern | str, attempts: int = 3) -> None:
    """Open the select box of widget `key` and choose its option `name`, opening it again if the list closed under
    the click or the choice did not take.

    A run that ends while the list is open can redraw it away; CI saw that under load, twice. A user whose click
    missed clicks again."""
    chosen = widget(page, key).get_by_role("combobox")  # its value is the chosen option's label
    for attempt in range(attempts):
        wait_for_app(page)
        chosen.click()
        try:
            page.get_by_role("option", name=name).click(timeout=5_000)
            expect(chosen).to_have_value(name, timeout=10_000)
            return
        except (PlaywrightTimeout, AssertionError):
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")


ODDS_BY_KEY = """() => Object.fromEntries([...document.querySelectorAll('[class*="st-key-pick-"]')].map(
    el => [[...el.classList].find(c => c.startsWith('st-key-pick-')), el.innerText.replace(/\\s+/g, ' ').trim()]))"""


def odds_on_screen(page: Page) -> dict[str, str]:
    """Each pick button's text ("1 · 2.10") by its widget key, as the page shows it now."""
    return page.evaluate(ODDS_BY_KEY)


def sold_code(page: Page, timeout: float = 20_000) -> str:
    banner = page.get_by_text(re.compile(r"Ticket sold: [A-Z0-9]{6}"))
    expect(banner).to_be_visible(timeout=timeout)
    return re.search(r"Ticket sold: ([A-Z0-9]{6})", banner.inner_text()).group(1)
