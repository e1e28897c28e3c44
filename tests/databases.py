"""The engine suite runs on SQLite and, when `TICKETING_TEST_POSTGRES_URL` names a server, on PostgreSQL too."""

import os
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ENV = "TICKETING_TEST_POSTGRES_URL"
POSTGRES_COMMAND = f"{POSTGRES_ENV}=postgresql+psycopg://user@127.0.0.1:5432/postgres python -m pytest"
SKIP_REASON = (
    f"PostgreSQL run not selected: set {POSTGRES_ENV}=postgresql+psycopg://user@127.0.0.1:5432/postgres "
    "(.ci/run starts a server and sets it)"
)


class Databases:
    """Fresh, empty databases of one backend for a test, dropped afterwards. `make()` gives a `TICKETING_DB` value."""

    def __init__(self, backend: str, folder: Path):
        self.backend = backend
        self.folder = folder
        self.created: list[str] = []

    def make(self, name: str = "engine") -> str:
        if self.backend == "sqlite":
            return str(self.folder / f"{name}-{uuid.uuid4().hex[:8]}.sqlite3")
        database = f"t_{name}_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{database}"')
        self.created.append(database)
        return make_url(os.environ[POSTGRES_ENV]).set(database=database).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        for database in self.created:
            self._admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self.created.clear()

    @staticmethod
    def _admin(statement: str) -> None:
        admin = create_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(statement))
        finally:
            admin.dispose()
