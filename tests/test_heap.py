"""The servers' garbage collection stays out of a sale's latency: what start built is frozen (`ticketing/heap.py`)."""

import asyncio
import gc

import pytest

from ticketing.api import create_app
from ticketing.selling.sale_process import sale_engine
from ticketing.settings import Settings


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_the_api_process_freezes_what_its_start_built(tmp_path, unfrozen):
    app = create_app(Settings(database=str(tmp_path / "engine.sqlite3"), simulator=False, sale_writer="thread"))

    async def serving() -> int:
        async with app.router.lifespan_context(app):
            return gc.get_freeze_count()

    assert gc.get_freeze_count() == 0
    assert asyncio.run(serving()) > 10_000, "a full collection would walk the app and its engine under load"
    assert gc.get_freeze_count() == 0, "an app started and stopped in a process leaves nothing frozen for good"


def test_the_sale_writer_process_freezes_its_engine(tmp_path, unfrozen):
    engine = sale_engine(Settings(database=str(tmp_path / "engine.sqlite3"), simulator=False))
    try:
        assert gc.get_freeze_count() > 10_000
    finally:
        engine.close()
