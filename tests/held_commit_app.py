"""The engine's app with its write commits held on demand, for crash tests: `uvicorn tests.held_commit_app:app`.

Once the file named by `HOLD_COMMITS_WHEN` exists, every write transaction that reaches its commit stops just
before it (and creates the file named by `COMMITS_HELD`), for good: the process is then killed with its
transactions uncommitted. Whatever a client was answered by then must already be durable. Each uvicorn worker
imports this module, so every worker holds its commits.
"""

import os
import time
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

from ticketing.api import app

HOLD_WHEN = Path(os.environ["HOLD_COMMITS_WHEN"])
HELD = Path(os.environ["COMMITS_HELD"])


@event.listens_for(Engine, "commit")
def _hold_write_commits(conn) -> None:
    if conn.get_execution_options().get("write") and HOLD_WHEN.exists():
        HELD.touch()
        time.sleep(3600)


__all__ = ["app"]
