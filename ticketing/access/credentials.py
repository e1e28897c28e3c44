"""Credentials: an operator's keys, each with its own secret and one role, and the queries on them.

A secret is stored as issued, not hashed: checking an HMAC signature needs the secret itself. Encrypting it with a
server key would only help if that key lived somewhere the database does not (a KMS); the database already holds
every balance, so it is protected as the secrets are (README "Access"). A revoked credential is kept, so that its
key id is never issued again and the record shows when it stopped working.
"""

import re
import secrets
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import Connection, insert, select, update

from ticketing.access.roles import Actor, Role
from ticketing.storage import _aware, _naive_utc, credentials

KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""Key ids travel in a header and in logs: letters, digits, `_`, `.` and `-`."""


class Credential(BaseModel):
    key_id: str
    operator: str
    role: Role
    secret: str = Field(repr=False)
    created: datetime
    revoked: datetime | None = None

    @property
    def actor(self) -> Actor:
        return Actor(operator=self.operator, role=self.role, key_id=self.key_id)


def new_secret() -> str:
    """256 random bits, URL-safe: it goes into environment variables and config files as is."""
    return secrets.token_urlsafe(32)


def _credential(row) -> Credential:
    return Credential(
        key_id=row.key_id,
        operator=row.operator,
        role=Role(row.role),
        secret=row.secret,
        created=_aware(row.created),
        revoked=None if row.revoked is None else _aware(row.revoked),
    )


def load_credential(conn: Connection, key_id: str) -> Credential | None:
    row = conn.execute(select(credentials).where(credentials.c.key_id == key_id)).first()
    return None if row is None else _credential(row)


def list_credentials(conn: Connection, operator: str | None = None) -> list[Credential]:
    query = select(credentials).order_by(credentials.c.operator, credentials.c.key_id)
    if operator is not None:
        query = query.where(credentials.c.operator == operator)
    return [_credential(row) for row in conn.execute(query)]


def add_credential(conn: Connection, credential: Credential) -> None:
    conn.execute(
        insert(credentials).values(
            key_id=credential.key_id,
            operator=credential.operator,
            role=credential.role.value,
            secret=credential.secret,
            created=_naive_utc(credential.created),
            revoked=None if credential.revoked is None else _naive_utc(credential.revoked),
        )
    )


def revoke_credential(conn: Connection, key_id: str, when: datetime) -> bool:
    """False when there is no such credential or it was revoked already."""
    where = (credentials.c.key_id == key_id) & credentials.c.revoked.is_(None)
    return conn.execute(update(credentials).where(where).values(revoked=_naive_utc(when))).rowcount == 1


def seed_credential(conn: Connection, key_id: str, operator: str, role: Role, secret: str, now: datetime) -> None:
    """The demo's credentials, written at every start from the environment; a revoked one stays revoked."""
    existing = load_credential(conn, key_id)
    if existing is None:
        add_credential(conn, Credential(key_id=key_id, operator=operator, role=role, secret=secret, created=now))
    elif existing.revoked is None:
        values = {"operator": operator, "role": role.value, "secret": secret}
        conn.execute(update(credentials).where(credentials.c.key_id == key_id).values(**values))
