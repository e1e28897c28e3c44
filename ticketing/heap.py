"""Keep the server's garbage collection out of its sales' latency.

Python's full collection (generation 2) walks every container object the process holds: after start, some hundreds
of thousands (FastAPI's and pydantic's schemas, SQLAlchemy's tables and caches, the engine), which took 125 ms in
the API process under load: every sale in flight waited for it, the whole p99 at 32 connections (README
"Performance"). They live as long as the process, so once it has started they are moved out of the collector's sight
(`gc.freeze()`), and a full collection walks only what was made since. Frozen objects are still freed by reference
counting; only a reference cycle among them would outlive its use.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_what_start_built() -> None:
    """Once the process holds what it keeps for its life (its app, engine, connections): collect, then freeze."""
    gc.collect()
    gc.freeze()


@contextmanager
def heap_frozen_while_serving() -> Iterator[None]:
    """The API's life, between its start and its stop: thawed at the stop, so that an app started and stopped again
    in one process (tests, an embedding program) leaves nothing frozen behind for good."""
    freeze_what_start_built()
    try:
        yield
    finally:
        gc.unfreeze()
