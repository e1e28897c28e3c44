"""The statements of a batch of sales, on the DB-API cursor: what a batch reads before deciding its sales
(`SaleStatements.read_ahead`) and what it writes, with its commit (`SaleStatements.write`); on PostgreSQL, a batch
decided on what earlier batches read, written with checks of it in one round trip (`SaleStatements.write_in_one_trip`).

The tables and the store's shared helpers are `ticketing.storage`'s; the engine's writer thread calls these
(`TicketEngine._sell_batch`, `ticketing.selling.group_commit`)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import RawCursor
from sqlalchemy import Connection, literal_column
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg

from ticketing.contract.models import Ticket
from ticketing.contract.money import to_cents
from ticketing.selling.pg_pipeline import PgPipeline
from ticketing.storage import (
    SELECT_COUPON_WITH_EVENTS_FOR_SHARE,
    TICKET_COLUMNS,
    _driver_in_transaction,
    _naive_utc,
    _numbered,
    _odds_int,
)


@dataclass(frozen=True)
class BatchReads:
    """What a batch of sales read before deciding any of them (`SaleStatements.read_ahead`)."""

    used_keys: dict[tuple[str, str], tuple[str, str, str | None]]
    """{(operator, idempotency key): (ticket id, request fingerprint, the till that sold it)} of the keys already
    used."""
    new_claims: set[tuple[str, str]]
    """The (operator, signature) pairs this batch claimed; any other was claimed before: a replay."""
    coupon_rows: dict[tuple[str, str], tuple[tuple, ...]]
    """PostgreSQL: {(coupon id, operator): its rows with its events, locked FOR SHARE}."""
    coupon_versions: dict[tuple[str, str], list[str]]
    """PostgreSQL: {(coupon id, operator): the versions of those rows (`SaleStatements.write_in_one_trip`)}."""
    balances: dict[str, int]
    taken_codes: set[str]
    open_tills: set[tuple[str, str]] = frozenset()
    """(operator, till) of the tills asked about that have an open shift, held (FOR SHARE) until the commit."""


PG_DIALECT = postgresql_psycopg.dialect()
# A row's `xmin` is the transaction that wrote that version of it: any change to a coupon or one of its events (an
# UPDATE writes a new version) gives it another, and locking it FOR SHARE does not.
SELECT_COUPON_WITH_VERSIONS = SELECT_COUPON_WITH_EVENTS_FOR_SHARE.add_columns(
    literal_column("coupons.xmin::text"), literal_column("coupon_events.xmin::text")
)
COUPON_UNCHANGED = (
    "WITH locked AS (SELECT coupons.xmin::text || ' ' || coupon_events.xmin::text AS version, coupon_events.position"
    " FROM coupons JOIN coupon_events ON coupon_events.coupon_id = coupons.id"
    " WHERE coupons.id = $1 AND coupons.operator = $2 FOR SHARE OF coupons, coupon_events)"
    " SELECT 1 / ((SELECT array_agg(version ORDER BY position) FROM locked) IS NOT DISTINCT FROM $3::text[])::int"
)
"""Fails (division by zero) unless the coupon's rows are those of `versions`, and holds them until the commit."""
ONE_TRIP = "one_trip"
"""The savepoint a batch sold in one trip goes back to when it fails (`SaleStatements.write_in_one_trip`)."""
MAX_PARAMETERS = 30_000
"""Parameters in one statement, below PostgreSQL's 65,535 and SQLite's 32,766 (its lowest limit, before 3.32)."""


class _SQLiteStatements:
    """`PgPipeline`'s shape for SQLite: each statement executed at once on the DB-API cursor."""

    def __init__(self, raw):
        self._raw = raw

    def __enter__(self) -> "_SQLiteStatements":
        return self

    def __exit__(self, *_exception) -> None:
        return None

    def execute(self, statement: str, parameters=(), prepare: bool = True):
        cursor = self._raw.cursor()
        cursor.execute(statement, parameters)
        return cursor


class SaleStatements:
    """A batch of sales in a handful of statements, whatever the batch's size, below SQLAlchemy's execution layer
    (~40 µs of Python a statement, and a sale took four or more of them: README "Performance"): on SQLite the DB-API
    cursor, on PostgreSQL libpq's pipeline (`PgPipeline`), so a batch waits for the server once for its reads and
    once for its writes with its commit. The statements are plain SQL that SQLite and PostgreSQL both take."""

    def __init__(self, is_sqlite: bool):
        self.is_sqlite = is_sqlite
        self._last_moment: tuple[datetime | None, Any] = (None, None)
        mark = "?" if is_sqlite else "%s"
        self._mark = mark
        # SQLite keeps a statement journal, a copy of every page a statement changes, for a multi-row INSERT that a
        # constraint may abort halfway (its default, ABORT, undoes the statement's earlier rows): a batch's inserts
        # wrote it to a temporary file in /var/tmp once every three batches under load. OR FAIL keeps none and leaves
        # the failed statement's earlier rows to the batch's rollback, which follows any failed statement. A table
        # with a foreign key still keeps one (a key's failure undoes the whole statement): the stakes, and the picks
        # of a database made before their key was dropped (`drop_the_picks_foreign_key`).
        insert = "INSERT OR FAIL INTO" if is_sqlite else "INSERT INTO"
        self._insert_into = insert
        self.insert_tickets = f"{insert} tickets ({', '.join(TICKET_COLUMNS)}) VALUES "
        self.insert_ticket_events = f"{insert} ticket_events (ticket_id, position, event_id, bet, odds) VALUES "
        # The guard is the balance check's second line: each sale was checked in order against the balances as this
        # transaction read them; a sale alone read them locked (FOR UPDATE on PostgreSQL; SQLite's writer lock), so
        # the guard never refuses it; a batch read them unlocked, and it refuses when another writer's debit came
        # in between (the batch then fails and its sales are run again alone).
        debit = (
            f"UPDATE accounts SET balance_cents = balance_cents - {mark}"
            f" WHERE token_sha256 = {mark} AND balance_cents >= {mark}"
        )
        # PostgreSQL: a refusal is an error (division by zero), which aborts the transaction before the COMMIT sent
        # in the same pipeline (`write`); SQLite's row count is read before its commit.
        self.debit = debit if is_sqlite else f"WITH debited AS ({debit} RETURNING 1) SELECT 1 / count(*) FROM debited"
        # (ticket id, cents, at, operator, till) rows: each stake goes to its till's open shift, if it has one. On
        # PostgreSQL the shift is held (FOR SHARE) until the batch commits: its closing waits and counts the stake,
        # and a batch that comes after the closing finds the shift closed.
        self.record_stakes = (
            f"{insert} cash_operations (shift_id, kind, ticket_id, amount_cents, at)"
            " SELECT shifts.id, 'stake', stake.column1, stake.column2, stake.column3 FROM (VALUES {rows}) AS stake"
            " JOIN shifts ON shifts.operator = stake.column4 AND shifts.till = stake.column5"
            " AND shifts.closed_at IS NULL" + ("" if is_sqlite else " FOR SHARE OF shifts")
        )
        self._lock_rows = "" if is_sqlite else " FOR UPDATE"
        select_coupon = "" if is_sqlite else str(SELECT_COUPON_WITH_VERSIONS.compile(dialect=PG_DIALECT))
        self.select_coupon = select_coupon.replace("%(coupon_id)s", "%s").replace("%(operator)s", "%s")

    def moment(self, value: datetime):
        """A datetime as SQLAlchemy's `DateTime` stores it: SQLite's text form, PostgreSQL's timestamp."""
        last_value, last_moment = self._last_moment
        if value == last_value:
            # A batch's tickets share one creation time: its form is made once, not two or three times a ticket.
            return last_moment
        naive = _naive_utc(value)
        stored = naive.strftime("%Y-%m-%d %H:%M:%S.%f") if self.is_sqlite else naive
        self._last_moment = (value, stored)
        return stored

    def _marks(self, count: int, width: int = 1) -> str:
        row = self._mark if width == 1 else f"({', '.join([self._mark] * width)})"
        return ", ".join([row] * count)

    def _cursor(self, conn: Connection):
        """On PostgreSQL a raw cursor, which sends the statement as it is, its marks numbered (`_numbered`): psycopg
        would parse a statement's `%s` marks in Python at every execution once it has over 50 parameters."""
        raw = _driver_in_transaction(conn)
        return raw.cursor() if self.is_sqlite else RawCursor(raw)

    def _statements(self, raw):
        """Where a batch's statements go: `execute` each inside the block, read their results once it has ended (on
        PostgreSQL they are sent when it ends, after the transaction's BEGIN if it has none yet: `Store.batch_write`
        leaves the BEGIN to the batch's first statements, so that it is not a round trip of its own)."""
        return _SQLiteStatements(raw) if self.is_sqlite else PgPipeline(raw)

    def _sql(self, statement: str) -> str:
        return statement if self.is_sqlite else _numbered(statement)

    def read_ahead(
        self,
        conn: Connection,
        keys: list[tuple[str, str]],
        claims: list[tuple[str, str, int, str]],
        coupons: list[tuple[str, str]],
        tokens: list[str],
        codes: list[str],
        lock_balances: bool = True,
        tills: list[tuple[str, str]] = (),
    ) -> "BatchReads":
        """Everything a batch reads before it decides a sale, on PostgreSQL in one pipeline: the batch waits for the
        server once for all of it, where each of these statements was a round trip of its own (README
        "Performance"). Locks are taken in the one order every batch takes them: claims, the coupons' events
        (FOR SHARE), the balances (FOR UPDATE, when locked).

        - `keys` (operator, idempotency key): the tickets already sold under them;
        - `claims` (operator, signature, expires, ticket id): claimed in one statement, without `RETURNING`
          (SQLite's driver would step, and let go of the interpreter, once a row); the count of rows inserted says
          whether every claim was new, as it is but for a replay, and only then are they read back;
        - `coupons` (id, operator): their rows with their events, on PostgreSQL only (SQLite reads each through the
          store's cache, `Store.load_coupon_to_sell`);
        - `tokens`: the balances of these accounts, locked until the commit (FOR UPDATE) if `lock_balances`: a batch
          reads them unlocked, so that two writers (two workers' sale processes) do not take turns for a whole batch
          on a shop's account; its debit's own guard then refuses what an earlier read allowed (`write`), and the
          batch's sales are run again alone, on locked balances;
        - `codes`: which of these ticket codes are taken;
        - `tills` (operator, till): which of them have an open shift, on PostgreSQL held (FOR SHARE) until the commit
          so that the shift cannot close before the stakes it will count are written."""
        raw = conn.connection.driver_connection
        claims = sorted(claims)  # one order for every process, so that two batches never wait on each other
        coupons = [] if self.is_sqlite else sorted(set(coupons))
        tills = sorted(set(tills))
        with self._statements(raw) as statements:
            used = self._keys_used(statements, keys) if keys else None
            claimed = self._claim(statements, claims) if claims else None
            coupon_rows = {key: self._query(statements, self.select_coupon, key) for key in coupons}
            shifts = self._open_tills(statements, tills) if tills else None
            balances = self._balances(statements, sorted(set(tokens)), lock_balances) if tokens else None
            taken = self._taken_codes(statements, codes)
        versioned = {key: cursor.fetchall() for key, cursor in coupon_rows.items()}
        return BatchReads(
            used_keys={} if used is None else {(row[0], row[1]): (row[2], row[3], row[4]) for row in used.fetchall()},
            new_claims=set() if claimed is None else self._new_claims(raw, claims, claimed.rowcount),
            coupon_rows={key: tuple(row[:-2] for row in rows) for key, rows in versioned.items()},
            coupon_versions={key: [f"{row[-2]} {row[-1]}" for row in rows] for key, rows in versioned.items()},
            balances={} if balances is None else dict(balances.fetchall()),
            taken_codes={row[0] for row in taken.fetchall()},
            open_tills=set() if shifts is None else {(row[0], row[1]) for row in shifts.fetchall()},
        )

    def _query(self, statements, statement: str, parameters, lookup: bool = False):
        """`lookup`: a search of a table that grows with every sale, never prepared (`PgPipeline.execute`)."""
        return statements.execute(self._sql(statement), parameters, prepare=not lookup)

    def _per_operator(self, column: str, count: int) -> str:
        """The condition matching any of `count` (operator, `column`) pairs: a batch's lookups in one statement."""
        return " OR ".join([f"(operator = {self._mark} AND {column} = {self._mark})"] * count)

    def _keys_used(self, statements, keys: list[tuple[str, str]]):
        where = self._per_operator("idempotency_key", len(keys))
        return self._query(
            statements,
            f"SELECT operator, idempotency_key, id, request_sha256, sold_by FROM tickets WHERE {where}",
            [part for key in keys for part in key],
            lookup=True,
        )

    def _claim(self, statements, claims: list[tuple[str, str, int, str]], replays_fail: bool = False):
        """A conflict is a replay: in a batch that reads first not an error, which would abort the batch; in a batch
        sold in one trip (`replays_fail`) the error that sends it back to reading first."""
        return self._query(
            statements,
            f"{self._insert_into} request_signatures (operator, signature, expires, ticket_id)"
            f" VALUES {self._marks(len(claims), 4)}" + ("" if replays_fail else " ON CONFLICT DO NOTHING"),
            [part for claim in claims for part in claim],
        )

    def _new_claims(self, raw, claims: list[tuple[str, str, int, str]], inserted: int) -> set[tuple[str, str]]:
        """The (operator, signature) pairs this batch claimed: all when every row was inserted, else those whose
        claim names its own ticket."""
        if inserted == len(claims):
            return {(operator, signature) for operator, signature, _expires, _ticket in claims}
        where = self._per_operator("signature", len(claims))
        with self._statements(raw) as statements:
            cursor = self._query(
                statements,
                f"SELECT operator, signature, ticket_id FROM request_signatures WHERE {where}",
                [part for claim in claims for part in claim[:2]],
                lookup=True,
            )
        claimed_for = {(row[0], row[1]): row[2] for row in cursor.fetchall()}
        return {
            (operator, signature)
            for operator, signature, _e, ticket in claims
            if claimed_for.get((operator, signature)) == ticket
        }

    def point_claims(self, conn: Connection, claims: list[tuple[str, str, str]]) -> None:
        """(ticket id, operator, signature): claims made for a sale that turned out to be a retry name the ticket
        its idempotency key sold, so that a replay of it answers that ticket."""
        cursor = self._cursor(conn)
        cursor.executemany(
            self._sql(
                f"UPDATE request_signatures SET ticket_id = {self._mark} WHERE operator = {self._mark}"
                f" AND signature = {self._mark}"
            ),
            claims,
        )

    def forget_claims(self, conn: Connection, claims: list[tuple[str, str]]) -> None:
        cursor = self._cursor(conn)
        cursor.executemany(
            self._sql(f"DELETE FROM request_signatures WHERE operator = {self._mark} AND signature = {self._mark}"),
            claims,
        )

    def _open_tills(self, statements, tills: list[tuple[str, str]]):
        where = self._per_operator("till", len(tills))
        return self._query(
            statements,
            f"SELECT operator, till FROM shifts WHERE closed_at IS NULL AND ({where})"
            + ("" if self.is_sqlite else " FOR SHARE"),
            [part for till in tills for part in till],
        )

    def _balances(self, statements, tokens: list[str], lock: bool):
        """The accounts' balances in cents, on PostgreSQL locked until the commit if `lock` (on SQLite the writer
        lock is held whatever)."""
        return self._query(
            statements,
            f"SELECT token_sha256, balance_cents FROM accounts WHERE token_sha256 IN ({self._marks(len(tokens))})"
            f" ORDER BY token_sha256{self._lock_rows if lock else ''}",
            tokens,
        )

    def taken_codes(self, conn: Connection, codes: list[str]) -> set[str]:
        with self._statements(conn.connection.driver_connection) as statements:
            taken = self._taken_codes(statements, codes)
        return {row[0] for row in taken.fetchall()}

    def _taken_codes(self, statements, codes: list[str]):
        statement = f"SELECT code FROM tickets WHERE code IN ({self._marks(len(codes))})"
        return self._query(statements, statement, codes, lookup=True)

    def write(self, conn: Connection, debits: dict[str, int], tickets: list, events: list, stakes: list) -> None:
        """The batch's writes, then its commit: one debit per internal account (its sales' total: a PAM wallet's
        sale has none), the tickets, their picks, and the stakes of shop tickets in their till's open shift. Raises,
        having committed nothing, if a debit finds the balance short. Nothing may follow it in its transaction.

        On PostgreSQL the COMMIT goes in the writes' pipeline: the batch waits for the server once for its writes
        and its durable commit (the commit's own round trip was a tenth of the writer's time at 8 connections).

        Rows go in multi-row statements, not `executemany`: SQLite's driver lets go of the interpreter around every
        row it steps and must win it back from the event loop after each, which under load made a batch's writes
        wait several times longer than they worked."""
        raw = conn.connection.driver_connection
        if self.is_sqlite and not raw.in_transaction:
            # SQLite ends a transaction by itself after an I/O error, a full disk or no memory, and a batch goes on
            # past a sale whose checks failed: each write would then commit alone, a ticket without its picks.
            raise RuntimeError("the batch's transaction ended before its writes")
        with self._statements(raw) as statements:
            debited = self._writes(statements, debits, tickets, events, stakes)
        if self.is_sqlite and any(debit.rowcount != 1 for debit in debited):
            raise RuntimeError("a debit found a balance short of what was checked in its transaction")
        raw.commit()

    def write_in_one_trip(
        self,
        conn: Connection,
        keys: list[tuple[str, str]],
        claims: list[tuple[str, str, int, str]],
        coupons: dict[tuple[str, str], list[str]],
        tills: list[tuple[str, str]],
        debits: dict[str, int],
        tickets: list,
        events: list,
        stakes: list,
    ) -> bool:
        """PostgreSQL: a batch decided without `read_ahead`, on what the last batch read, written with its commit in
        one pipeline, each of those reads replaced by a statement that fails unless it would have read what the
        batch assumed: no ticket sold under any of the `keys` (operator, idempotency key), so that a retry is answered
        with its first ticket even when it would now be refused; every claim new (a plain INSERT: a replay's signature
        is taken); each coupon's rows the versions its model was built from (`COUPON_UNCHANGED`, held FOR SHARE); each
        till of a sale over the counter with its open shift (held FOR SHARE; a till has one at most, by
        `ux_shifts_one_open_per_till`); each debit covered (its guard, as in `write`); every ticket code free (its
        unique key). Locks are taken in `read_ahead`'s order.

        True once committed. False when any of them failed: the batch went back to its savepoint, so nothing of it is
        left in the transaction, which is open for the batch to be decided again on what `read_ahead` reads."""
        raw = conn.connection.driver_connection
        try:
            with PgPipeline(raw) as statements:
                statements.execute(f"SAVEPOINT {ONE_TRIP}")
                if keys:
                    self._query(
                        statements,
                        "SELECT 1 / (count(*) = 0)::int FROM tickets"
                        f" WHERE {self._per_operator('idempotency_key', len(keys))}",
                        [part for key in keys for part in key],
                        lookup=True,
                    )
                if claims:
                    self._claim(statements, sorted(claims), replays_fail=True)
                for key, versions in sorted(coupons.items()):
                    statements.execute(COUPON_UNCHANGED, [*key, versions])
                if tills:
                    self._query(
                        statements,
                        "WITH open AS (SELECT 1 FROM shifts WHERE closed_at IS NULL"
                        f" AND ({self._per_operator('till', len(tills))}) FOR SHARE)"
                        f" SELECT 1 / (count(*) = {len(tills)})::int FROM open",
                        [part for till in sorted(tills) for part in till],
                    )
                self._writes(statements, debits, tickets, events, stakes)
        except psycopg.Error:
            raw.execute(f"ROLLBACK TO SAVEPOINT {ONE_TRIP}")
            return False
        return True

    def _writes(self, statements, debits: dict[str, int], tickets: list, events: list, stakes: list) -> list:
        """`write`'s statements queued on `statements`, with the COMMIT on PostgreSQL: each debit's result."""
        # In one order for every writer: the debits are the batch's first locks on its accounts (read unlocked), and
        # two workers' batches debiting two shops in opposite orders would deadlock.
        debit_rows = [(cents, token, cents) for token, cents in sorted(debits.items())]
        self._insert(statements, self.insert_tickets + "{rows}", tickets)
        self._insert(statements, self.insert_ticket_events + "{rows}", events)
        if stakes:
            self._insert(statements, self.record_stakes, stakes)
        debited = [self._query(statements, self.debit, row) for row in debit_rows]
        if not self.is_sqlite:
            statements.execute("COMMIT")
        return debited

    def _insert(self, statements, statement: str, rows: list[tuple]) -> None:
        """`statement` with its `{rows}` filled by as many rows as fit in one statement's parameters."""
        if not rows:
            return
        width = len(rows[0])
        per_statement = MAX_PARAMETERS // width
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            values = [value for row in chunk for value in row]
            self._query(statements, statement.format(rows=self._marks(len(chunk), width)), values)

    def ticket_row(
        self,
        ticket: Ticket,
        token_sha256: str,
        idempotency_key: str | None,
        request_sha256: str,
        sold_by: str | None,
        wallet: str = "internal",
    ) -> tuple:
        """A ticket as `insert_tickets` takes it, in `TICKET_COLUMNS` order."""
        created = self.moment(ticket.created)
        return (
            ticket.id,
            ticket.code,
            ticket.operator,
            ticket.user_id,
            token_sha256,
            ticket.coupon_id,
            ticket.currency,
            to_cents(ticket.stake),
            to_cents(ticket.net_stake),
            to_cents(ticket.excise),
            str(ticket.total_odds),
            to_cents(ticket.payout),
            to_cents(ticket.tax),
            to_cents(ticket.net_payout),
            _odds_int(ticket.odds_diff),
            ticket.status.value,
            ticket.result.value,
            ticket.approved,
            ticket.source.value,
            ticket.type.value,
            ticket.atag,
            idempotency_key,
            request_sha256,
            created,
            created if ticket.updated == ticket.created else self.moment(ticket.updated),
            sold_by,
            wallet,
        )

    @staticmethod
    def ticket_event_rows(ticket: Ticket) -> list[tuple]:
        return [(ticket.id, i, e.id, e.bet, _odds_int(e.odds)) for i, e in enumerate(ticket.events)]
