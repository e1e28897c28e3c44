"""`PgPipeline`: a batch's statements on libpq's pipeline, below psycopg's cursor (PostgreSQL only)."""

import os

import psycopg
import pytest
from sqlalchemy import text

from tests.databases import POSTGRES_ENV, SKIP_REASON, Databases
from ticketing.selling.pg_pipeline import MAX_COUNTED, PREPARE_AT, PgPipeline, PreparedStatements
from ticketing.storage import Store

pytestmark = pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=SKIP_REASON)


@pytest.fixture
def database(tmp_path):
    """A fresh database with one table: its SQLAlchemy URL."""
    databases = Databases("postgresql", tmp_path)
    url = databases.make("pipeline")
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as connection:
        connection.execute("CREATE TABLE t (id text PRIMARY KEY, n bigint NOT NULL, at timestamp)")
    yield url
    databases.drop_all()


@pytest.fixture
def raw(database):
    """A driver connection in autocommit mode, as the batch writer's."""
    connection = psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    yield connection
    connection.close()


def rows(raw) -> list[tuple]:
    return raw.execute("SELECT id, n FROM t ORDER BY id").fetchall()


def test_the_statements_are_one_transaction_with_their_values_read_as_psycopg_reads_them(raw):
    with PgPipeline(raw) as statements:
        inserted = statements.execute(
            "INSERT INTO t VALUES ($1, $2, $3), ($4, $5, $6)", ["a", 1, None, "b", 2**40, None]
        )
        read = statements.execute("SELECT id, n, now()::timestamp FROM t WHERE n > $1 ORDER BY id", [0])
    assert inserted.rowcount == 2
    assert [(row[0], row[1], type(row[2]).__name__) for row in read.fetchall()] == [
        ("a", 1, "datetime"),
        ("b", 2**40, "datetime"),
    ]
    assert raw.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS, "a BEGIN went first"
    raw.rollback()
    assert rows(raw) == []


def test_a_failing_statement_raises_psycopgs_error_and_nothing_after_it_runs(raw):
    raw.execute("INSERT INTO t VALUES ('a', 1)")
    with pytest.raises(psycopg.errors.UniqueViolation), PgPipeline(raw) as statements:
        statements.execute("INSERT INTO t VALUES ($1, $2)", ["b", 2])
        statements.execute("INSERT INTO t VALUES ($1, $2)", ["a", 3])
        statements.execute("INSERT INTO t VALUES ($1, $2)", ["c", 4])
        statements.execute("COMMIT")
    raw.rollback()
    assert rows(raw) == [("a", 1)]
    with PgPipeline(raw) as statements:  # the connection is out of pipeline mode, usable
        statements.execute("INSERT INTO t VALUES ($1, $2)", ["d", 5])
        statements.execute("COMMIT")
    assert rows(raw) == [("a", 1), ("d", 5)]


def test_a_connection_outside_autocommit_gets_its_begin_too(raw):
    """psycopg sends the BEGIN of a connection outside autocommit before its own first statement, not before these:
    without the pipeline's own, each statement would commit alone and a failed batch would leave its first ones."""
    raw.autocommit = False
    with pytest.raises(psycopg.errors.UniqueViolation), PgPipeline(raw) as statements:
        statements.execute("INSERT INTO t VALUES ($1, $2)", ["a", 1])
        statements.execute("INSERT INTO t VALUES ($1, $2)", ["a", 2])
    raw.rollback()
    assert rows(raw) == []


def test_a_block_left_by_an_exception_sends_nothing_more_and_leaves_the_connection_usable(raw):
    with pytest.raises(ZeroDivisionError), PgPipeline(raw) as statements:
        statements.execute("INSERT INTO t VALUES ($1, $2)", ["a", 1])
        raise ZeroDivisionError
    raw.rollback()
    assert rows(raw) == []


def test_a_batch_larger_than_the_sockets_buffers_is_sent_and_read_whole(raw):
    """libpq writes what the socket takes; the rest is sent while the server's results are read, or both would wait
    on each other."""
    with PgPipeline(raw) as statements:
        for start in range(0, 20_000, 1_000):
            marks = ", ".join(f"(${2 * i + 1}, ${2 * i + 2})" for i in range(1_000))
            values = [value for n in range(start, start + 1_000) for value in (f"{n:06}", n)]
            statements.execute(f"INSERT INTO t (id, n) VALUES {marks}", values)
        total = statements.execute("SELECT count(*), sum(n) FROM t")
        statements.execute("COMMIT")
    assert total.fetchall() == [(20_000, sum(range(20_000)))]


def test_a_statement_sent_often_is_prepared_once_and_a_lookup_never(raw):
    for n in range(PREPARE_AT + 3):
        with PgPipeline(raw) as statements:
            statements.execute("INSERT INTO t (id, n) VALUES ($1, $2)", [f"{n}", n])
            statements.execute("SELECT id FROM t WHERE id = $1", [f"{n}"], prepare=False)
            statements.execute("COMMIT")
    assert prepared_statements(raw) == ["INSERT INTO t (id, n) VALUES ($1, $2)"]
    assert len(rows(raw)) == PREPARE_AT + 3


def prepared_statements(raw) -> list[str]:
    return [row[0] for row in raw.execute("SELECT statement FROM pg_prepared_statements").fetchall()]


@pytest.mark.parametrize("fails", ["before", "after"])
def test_a_statement_prepared_in_a_failed_batch_is_prepared_once_and_used_afterwards(raw, fails):
    """A statement prepared lives as long as its connection, whatever became of the transaction it was prepared in;
    one whose preparing was skipped (an earlier statement of its pipeline failed) was never made."""
    insert = "INSERT INTO t (id, n) VALUES ($1, $2)"
    raw.execute("INSERT INTO t VALUES ('taken', 0)")
    for n in range(PREPARE_AT - 1):
        with PgPipeline(raw) as statements:
            statements.execute(insert, [f"{n}", n])
            statements.execute("COMMIT")
    with pytest.raises(psycopg.errors.UniqueViolation), PgPipeline(raw) as statements:
        if fails == "before":
            statements.execute("INSERT INTO t (id, n) VALUES ('taken', 1)", prepare=False)
        statements.execute(insert, ["x", 1])  # its fifth sending: prepared here
        if fails == "after":
            statements.execute("INSERT INTO t (id, n) VALUES ('taken', 1)", prepare=False)
    raw.rollback()
    for n in range(3):
        with PgPipeline(raw) as statements:
            statements.execute(insert, [f"y{n}", n])
            statements.execute("COMMIT")
    assert ("y2", 2) in rows(raw)
    assert prepared_statements(raw) == [insert]


def test_a_connection_keeps_its_prepared_statements_while_another_sends_the_same(raw):
    """The batch writer's connection and a sale alone's (a connection of the pool) send the same statements."""
    other = psycopg.connect(raw.info.dsn, autocommit=True)
    insert = "INSERT INTO t (id, n) VALUES ($1, $2)"
    try:
        for n in range(3 * PREPARE_AT):
            for connection in (raw, other) if n % 3 == 0 else (raw,):
                with PgPipeline(connection) as statements:
                    statements.execute(insert, [f"{connection is raw}{n}", n])
                    statements.execute("COMMIT")
        assert prepared_statements(raw) == [insert]
    finally:
        other.close()
    assert len(rows(raw)) == 4 * PREPARE_AT


def test_prepared_statements_dropped_by_someone_else_fail_one_batch_and_are_prepared_again(raw):
    insert = "INSERT INTO t (id, n) VALUES ($1, $2)"
    for n in range(PREPARE_AT):
        with PgPipeline(raw) as statements:
            statements.execute(insert, [f"{n}", n])
            statements.execute("COMMIT")
    raw.execute("DEALLOCATE ALL")
    with pytest.raises(psycopg.errors.InvalidSqlStatementName), PgPipeline(raw) as statements:
        statements.execute(insert, ["lost", 0])
    raw.rollback()
    for n in range(PREPARE_AT):
        with PgPipeline(raw) as statements:
            statements.execute(insert, [f"again{n}", n])
            statements.execute("COMMIT")
    assert prepared_statements(raw) == [insert]
    assert len(rows(raw)) == 2 * PREPARE_AT


class Abandoned(Exception):
    pass


def test_the_stores_connections_keep_the_sales_prepared_statements_through_a_rollback(database):
    """psycopg's rollback of a transaction in which it had prepared a statement of its own sends DEALLOCATE ALL: the
    store's connections let psycopg prepare nothing, so a sale alone that lost a race (rolled back, tried again on
    the same connection of the pool) finds its statements still there."""
    store = Store(database)
    insert = "INSERT INTO t (id, n) VALUES ($1, $2)"
    try:
        with store.engine.connect() as conn:
            raw = conn.connection.driver_connection
            for n in range(PREPARE_AT + 1):
                conn.execute(text("SELECT count(*) FROM t WHERE n > :n"), {"n": n})
                conn.commit()
            for n in range(PREPARE_AT):
                with PgPipeline(raw) as statements:
                    statements.execute(insert, [f"{n}", n])
                    statements.execute("COMMIT")
            with pytest.raises(Abandoned), conn.begin():
                conn.execute(text("SELECT count(*) FROM t WHERE n > :n"), {"n": 0})
                raise Abandoned
            with PgPipeline(raw) as statements:
                statements.execute(insert, ["after", 0])
                statements.execute("COMMIT")
            assert prepared_statements(raw) == [insert]
    finally:
        store.dispose()


def test_a_statement_sent_with_ints_of_any_size_is_one_prepared_statement(raw):
    """psycopg would send 1 as a smallint, 40,000 as an integer and 2**40 as a bigint: three statements to prepare
    for one text, and a batch's amounts would make new ones without end."""
    insert = "INSERT INTO t (id, n) VALUES ($1, $2)"
    for n in range(3 * PREPARE_AT):
        with PgPipeline(raw) as statements:
            statements.execute(insert, [f"{n}", (1, 40_000, 2**40)[n % 3]])
            statements.execute("COMMIT")
    assert prepared_statements(raw) == [insert]


def test_the_sendings_counted_stay_few_however_many_statements_are_sent():
    prepared = PreparedStatements()
    for n in range(10 * MAX_COUNTED):
        prepared.due((f"SELECT {n}".encode(), ()))
    assert len(prepared._sent) == MAX_COUNTED


def test_a_statement_sent_twice_in_the_pipeline_that_prepares_it_is_prepared_once(raw):
    """A batch's debit goes once per account, its coupon statement once per coupon."""
    insert = "INSERT INTO t (id, n) VALUES ($1, $2)"
    for n in range(PREPARE_AT + 1):
        with PgPipeline(raw) as statements:
            statements.execute(insert, [f"a{n}", n])
            statements.execute(insert, [f"b{n}", n])
            statements.execute("COMMIT")
    assert prepared_statements(raw) == [insert]
    assert len(rows(raw)) == 2 * (PREPARE_AT + 1)


def test_a_prepared_statement_whose_columns_changed_fails_once_and_is_prepared_afresh(raw):
    """PostgreSQL refuses to run a prepared statement whose result's columns changed type since ("cached plan must not
    change result type"): the batch that finds out fails, and the next one runs."""
    select_rows = "SELECT id, n FROM t WHERE n >= $1 ORDER BY id"
    raw.execute("INSERT INTO t VALUES ('a', 1)")
    for _ in range(PREPARE_AT):
        with PgPipeline(raw) as statements:
            statements.execute(select_rows, [0])
            statements.execute("COMMIT")
    raw.execute("ALTER TABLE t ALTER COLUMN id TYPE varchar(64)")
    with pytest.raises(psycopg.errors.FeatureNotSupported), PgPipeline(raw) as statements:
        statements.execute(select_rows, [0])
    raw.rollback()
    for _ in range(2):
        with PgPipeline(raw) as statements:
            found = statements.execute(select_rows, [0])
            statements.execute("COMMIT")
        assert found.fetchall() == [("a", 1)]
