"""Start real servers on 127.0.0.1 for tests: the engine API under uvicorn, the terminal under streamlit."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from ticketing.api import create_app
from ticketing.serve import uvicorn_options
from ticketing.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@contextmanager
def running(command: list[str], health_url: str, env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    with open(log_path, "wb") as log:
        # A session of its own, so that stopping (or SIGKILL-ing) it takes uvicorn's worker processes along.
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env={**os.environ, **env}, stdout=log, stderr=log, start_new_session=True
        )
        try:
            wait_until_healthy(health_url, process)
            yield process
        finally:
            stop_group(process)


def stop_group(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _server_module(app: str, workers: int) -> list[str]:
    """Several workers run as the README runs them, under `ticketing.serve` with its one sale writer for all."""
    return ["ticketing.serve", "--app", app] if workers > 1 else ["uvicorn", app]


@contextmanager
def engine_server(
    database: Path | str,
    log_path: Path,
    simulator: bool = False,
    extra_env: dict | None = None,
    workers: int = 1,
    app: str = "ticketing.api:app",
    command: list[str] | None = None,
):
    """`uvicorn ticketing.api:app` on a free port (`python -m ticketing.serve` with several workers); yields its base
    URL and process. With several workers the odds simulator runs as its own process (`python -m
    ticketing.odds.feed`), as the README says to run it. `app` names another module that wraps the same app (a
    test's fault injection); `command` replaces `python -m uvicorn {app} --host 127.0.0.1` (it is given `--port` and
    `--workers`)."""
    port = free_port()
    in_process = simulator and workers == 1
    env = {"TICKETING_DB": str(database), "TICKETING_SIMULATOR": "on" if in_process else "off", **(extra_env or {})}
    command = [
        *(command or [sys.executable, "-m", *_server_module(app, workers), "--host", "127.0.0.1"]),
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    base_url = f"http://127.0.0.1:{port}"
    with running(command, f"{base_url}/health", env, log_path) as process:
        if simulator and not in_process:
            feed = subprocess.Popen(
                [sys.executable, "-m", "ticketing.odds.feed"],
                cwd=PROJECT_ROOT,
                env={**os.environ, **env},
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                yield base_url, process
            finally:
                stop_group(feed)
        else:
            yield base_url, process


@contextmanager
def terminal_server(db_path: Path, log_path: Path, extra_env: dict | None = None, launcher: list[str] | None = None):
    """`streamlit run streamlit_app.py` on a free port; yields its URL. `launcher` replaces `python -m streamlit`
    (the benchmarks time script runs with `bench/timed_streamlit.py`)."""
    port = free_port()
    env = {"TICKETING_DB": str(db_path), "TICKETING_SIMULATOR": "off", **(extra_env or {})}
    command = [
        *(launcher or [sys.executable, "-m", "streamlit"]),
        "run",
        "streamlit_app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    url = f"http://127.0.0.1:{port}"
    with running(command, f"{url}/_stcore/health", env, log_path) as process:
        yield url, process


@contextmanager
def server_in_this_process(tmp_path, sale_writer: str = "thread") -> Iterator[tuple[int, object]]:
    """The app under `ticketing.serve`'s settings in a thread, so a test can break the engine inside it (a sale
    writer process is forked from this one when the app starts: it has whatever was broken by then)."""
    settings = Settings(database=str(tmp_path / "broken.sqlite3"), simulator=False, sale_writer=sale_writer)
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **uvicorn_options()))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield port, app
    finally:
        server.should_exit = True
        thread.join(10)
