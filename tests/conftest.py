import os

import pytest

from tests.browser import chromium
from tests.databases import POSTGRES_COMMAND, POSTGRES_ENV, SKIP_REASON, Databases
from tests.servers import engine_server, terminal_server
from tests.support import Api
from ticketing.demo.data import seed_demo_data
from ticketing.embedded import open_engine
from ticketing.engine import TicketEngine
from ticketing.settings import DEMO_SITE_SECRET, Settings
from ticketing.storage import Store, database_url

BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=SKIP_REASON)),
]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter):
    """Outermost, so that this comes last, after pytest's own short summary, just above the final counts: a green run
    that skipped the PostgreSQL half must not look like a full one."""
    yield
    skipped = sum(
        1
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and SKIP_REASON in report.longrepr[2]
    )
    if skipped:
        terminalreporter.write_sep("!", f"PostgreSQL half NOT run: {skipped} tests skipped", yellow=True, bold=True)
        terminalreporter.write_line(
            "The engine suite ran on SQLite only. To run it on PostgreSQL as well (an admin URL: each test creates and"
            " drops its own database):"
        )
        terminalreporter.write_line(f"    {POSTGRES_COMMAND}", bold=True)
        terminalreporter.write_line(".ci/run starts a PostgreSQL server and runs both halves.")


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request) -> str:
    """Every engine test module runs once per database backend."""
    return request.param


@pytest.fixture(params=[1, 2], ids=["1-worker", "2-workers"])
def workers(request, backend) -> int:
    """SQLite serves one worker; PostgreSQL is also proven under `uvicorn --workers 2`."""
    if request.param > 1 and backend == "sqlite":
        pytest.skip("several uvicorn workers are for the PostgreSQL engine")
    return request.param


@pytest.fixture
def databases(backend, tmp_path):
    made = Databases(backend, tmp_path)
    yield made
    made.drop_all()


@pytest.fixture(scope="module")
def module_databases(backend, tmp_path_factory):
    made = Databases(backend, tmp_path_factory.mktemp(backend))
    yield made
    made.drop_all()


@pytest.fixture
def engine(databases):
    """An in-process engine on a fresh database with the demo data."""
    store = Store(database_url(databases.make()))
    store.create_schema()
    engine = TicketEngine(store)
    seed_demo_data(engine, DEMO_SITE_SECRET)
    yield engine
    engine.close()


@pytest.fixture
def shop(tmp_path, monkeypatch):
    """For AppTest: the pages' embedded engine and this test engine share one SQLite file; simulator off."""
    db = tmp_path / "shop.sqlite3"
    monkeypatch.setenv("TICKETING_DB", str(db))
    monkeypatch.setenv("TICKETING_SIMULATOR", "off")
    monkeypatch.delenv("TICKETING_API_URL", raising=False)
    engine = open_engine(Settings(database=str(db), simulator=False))
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def api_server(module_databases, tmp_path_factory) -> tuple[str, str]:
    """A real `uvicorn ticketing.api:app` on 127.0.0.1 with its own database, odds simulator off: its URL and
    its database (to check what was stored behind the API's back)."""
    folder = tmp_path_factory.mktemp("api")
    database = module_databases.make("api")
    with engine_server(database, folder / "uvicorn.log") as (base_url, _process):
        yield base_url, database


@pytest.fixture(scope="module")
def api_url(api_server) -> str:
    return api_server[0]


@pytest.fixture(scope="module")
def api(api_url):
    client = Api(api_url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (Debian's, never a downloaded one)."""
    with chromium() as launched:
        yield launched


@pytest.fixture(autouse=True)
def close_pages_after_each_browser_test(request):
    """A page left open keeps its live refresh running on the module's server (a run every 2 s each): some thirty of
    them by the end of a module slowed every later test there, and keyboard tests failed under that load."""
    yield
    if "browser" in request.fixturenames:
        for context in request.getfixturevalue("browser").contexts:
            context.close()


@pytest.fixture(scope="module")
def terminal(tmp_path_factory):
    """An embedded-mode terminal for a module's browser tests, odds frozen so that keys and clicks are not raced by
    the simulator: its URL and an engine on its database."""
    folder = tmp_path_factory.mktemp("terminal")
    db = folder / "terminal.sqlite3"
    with terminal_server(db, folder / "streamlit.log") as (url, _process):
        engine = open_engine(Settings(database=str(db), simulator=False))
        yield url, engine
        engine.close()
