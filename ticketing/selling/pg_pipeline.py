"""A batch's statements sent to PostgreSQL at once on libpq's pipeline (`psycopg.pq`), their results read at once.

psycopg's cursor in a pipeline costs ~40 µs of Python a statement (its query object, the prepared-statement
manager, and a round of its pipeline's generators after each statement to send and read what it can), and a batch
of sales sends about ten: under load that Python sat on every batch's critical path (README "Performance"). Here the
statements go to libpq as they are, with their parameters adapted by psycopg's own (compiled) `Transformer`, so a
value is sent and read as through a cursor (but every int as a bigint: `_Adapting`); libpq is flushed once, and the
results are read once, after one Sync. A statement sent often is prepared, as psycopg's cursors prepare theirs
(`PreparedStatements`).

A statement's failure aborts the rest of the pipeline (PostgreSQL skips everything up to the Sync): the block raises
it as psycopg would (`psycopg.errors`, by SQLSTATE), and the transaction is left failed for its caller to roll back."""

import itertools
import select
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence

import psycopg
from psycopg import errors, pq
from psycopg.adapt import AdaptersMap, PyFormat, Transformer
from psycopg.types.numeric import Int8BinaryDumper

_OK = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)
PREPARE_AT = 5
"""A statement's sendings before it is prepared: psycopg's own threshold (`Connection.prepare_threshold`)."""
MAX_PREPARED = 100
"""Statements prepared on one connection at most, as psycopg's `prepared_max`: a batch's inserts differ by their
number of rows, and the most frequent are prepared first."""
PLAN_NO_LONGER_FITS = b"0A000"
"""PostgreSQL's answer to a prepared statement whose tables' columns changed since: "cached plan must not change result
type". Any other error of a prepared statement (a unique value taken, a debit's guard) leaves it as it was."""
MAX_COUNTED = 100
"""Statements not yet prepared whose sendings are counted, the least lately sent forgotten first (as psycopg)."""


class PreparedStatements:
    """The statements prepared on one connection, by text and parameter types: PostgreSQL parses and plans each
    once instead of at every batch (README "Performance"). A prepared statement lives as long as its connection,
    whatever becomes of the transaction that prepared it, so this is kept with the connection (`of`), and a name is
    never given twice in a process."""

    _of: "weakref.WeakKeyDictionary[psycopg.Connection, PreparedStatements]" = weakref.WeakKeyDictionary()
    _of_lock = threading.Lock()
    _numbers = itertools.count()

    def __init__(self) -> None:
        self._names: dict[tuple, bytes] = {}
        self._sent: OrderedDict[tuple, int] = OrderedDict()

    @classmethod
    def of(cls, raw: psycopg.Connection) -> "PreparedStatements":
        with cls._of_lock:
            prepared = cls._of.get(raw)
            if prepared is None:
                prepared = cls._of[raw] = cls()
            return prepared

    def name(self, key: tuple) -> bytes | None:
        return self._names.get(key)

    def due(self, key: tuple) -> bytes | None:
        """A name to prepare `key` under if it has been sent often enough and there is room for it, else None. Its
        count goes with the name: sent again in the pipeline that prepares it, it is not prepared twice."""
        sent = self._sent.pop(key, 0) + 1
        if sent >= PREPARE_AT and len(self._names) < MAX_PREPARED:
            return f"sale_{next(self._numbers)}".encode()
        self._sent[key] = sent
        if len(self._sent) > MAX_COUNTED:
            self._sent.popitem(last=False)
        return None

    def add(self, key: tuple, name: bytes) -> None:
        self._names[key] = name

    def not_made(self, key: tuple) -> None:
        """A statement whose preparing was skipped (an earlier statement of its pipeline failed): prepared next time."""
        self._sent[key] = PREPARE_AT - 1

    def drop(self, key: tuple) -> None:
        """A prepared statement the server refused to run (its plan no longer fits the tables, after a change of
        their columns): the next sending prepares it afresh under a new name. The old one stays on the server, unused,
        until the connection closes: a change of the tables under a running engine is rare."""
        self._names.pop(key, None)

    def forget(self) -> None:
        """After the server said one of them does not exist (a DISCARD ALL or DEALLOCATE ALL sent on the connection by
        someone else): the batch that found out fails, and the next prepares afresh."""
        self._names.clear()


class PendingResult:
    """A statement's result, readable once its pipeline has run."""

    __slots__ = ("_raw", "_result")

    def __init__(self, raw: psycopg.Connection):
        self._raw = raw
        self._result: pq.abc.PGresult | None = None

    def fetchall(self) -> list[tuple]:
        """The rows as psycopg's cursor reads them (its loaders made only for a result that is read: most of a
        batch's statements are writes)."""
        result = self._result
        transformer = Transformer(self._raw)
        transformer.set_pgresult(result)
        return transformer.load_rows(0, result.ntuples, tuple)

    @property
    def rowcount(self) -> int:
        return self._result.command_tuples or 0


class _Adapting:
    """psycopg's adapters for the connection, but every int sent as a bigint: psycopg picks smallint, integer,
    bigint or numeric by each value's size, and a statement prepared for one set of types cannot take another (a
    batch's amounts would make a new statement of every insert, without end)."""

    def __init__(self, raw: psycopg.Connection):
        self.connection = raw
        self.adapters = AdaptersMap(raw.adapters)
        self.adapters.register_dumper(int, Int8BinaryDumper)


class PgPipeline:
    """Statements queued by `execute` inside the block and sent, with a Sync, when it ends; their results are read
    before the block is left. The connection must be idle (no pipeline of psycopg's, nothing in flight):
    `SaleStatements` uses the batch writer's own connection. A block left by an exception sends nothing more and
    reads and drops whatever was sent. The statements are in a transaction: the block sends a BEGIN first when the
    connection has none open (and the caller commits or rolls back as usual, or sends a COMMIT last)."""

    def __init__(self, raw: psycopg.Connection):
        self._raw = raw
        self._pgconn = raw.pgconn
        self._transformer = Transformer(_Adapting(raw))
        self._prepared = PreparedStatements.of(raw)
        self._preparing: dict[tuple, tuple[PendingResult, bytes]] = {}
        self._pending: list[PendingResult] = []
        self._prepared_runs: list[tuple[PendingResult, tuple]] = []

    def __enter__(self) -> "PgPipeline":
        # Statements sent here bypass psycopg, which would otherwise send the BEGIN of a connection outside autocommit
        # before its first statement: without one, each would commit alone.
        in_transaction = self._pgconn.transaction_status != pq.TransactionStatus.IDLE
        self._pgconn.enter_pipeline_mode()
        if not in_transaction:
            self.execute("BEGIN")
        return self

    def __exit__(self, kind, error, traceback) -> None:
        pgconn = self._pgconn
        pgconn.pipeline_sync()
        _flush(pgconn)
        try:
            failure = self._read_results()
        finally:
            if pgconn.status == pq.ConnStatus.OK:
                pgconn.exit_pipeline_mode()
        self._remember_what_was_prepared()
        if failure is not None and kind is None:
            error = _error(failure, self._raw)
            if isinstance(error, errors.InvalidSqlStatementName):
                self._prepared.forget()
            raise error

    def execute(self, statement: str, parameters: Sequence = (), prepare: bool = True) -> PendingResult:
        """Queues `statement`, its marks PostgreSQL's own (`$1`...). A statement with parameters sent often is
        prepared (`PreparedStatements`). `prepare=False`: planned afresh at every sending, for a search of a table
        that grows with every sale: PostgreSQL may keep the generic plan of a prepared statement made while the table
        was small (a sequential scan of every ticket, seen on a fresh database: 1-2 ms a batch after 3,000 tickets,
        and growing with the table)."""
        command = statement.encode()
        if parameters:
            values = self._transformer.dump_sequence(parameters, [PyFormat.AUTO] * len(parameters))
            types, formats = tuple(self._transformer.types), self._transformer.formats
        else:
            values, types, formats = None, (), None
        key = (command, types)
        name = self._prepared.name(key)
        if name is None and prepare and values and (name := self._prepared.due(key)) is not None:
            self._pgconn.send_prepare(name, command, types)
            self._preparing[key] = (self._result(), name)
        if name is None:
            self._pgconn.send_query_params(command, values, types, formats)
            return self._result()
        self._pgconn.send_query_prepared(name, values, formats)
        pending = self._result()
        self._prepared_runs.append((pending, key))
        return pending

    def _result(self) -> PendingResult:
        pending = PendingResult(self._raw)
        self._pending.append(pending)
        return pending

    def _read_results(self) -> pq.abc.PGresult | None:
        """Each statement's result, then the Sync's; the first that failed."""
        failure = None
        for pending in self._pending:
            result = _next_result(self._pgconn)
            if result is None:
                raise errors.OperationalError("the server sent fewer results than statements")
            pending._result = result
            if failure is None and result.status not in _OK:
                failure = result
            if _next_result(self._pgconn) is not None:  # libpq's end of a statement's results
                raise errors.OperationalError("the server sent more than one result for a statement")
        _read_to_sync(self._pgconn)
        return failure

    def _remember_what_was_prepared(self) -> None:
        """The statements this pipeline prepared, even when a later one failed (a statement prepared lives as long as
        its connection), not those whose preparing the failure of an earlier one skipped; and a prepared statement
        the server refused to run is prepared afresh next time."""
        for key, (pending, name) in self._preparing.items():
            if pending._result is not None and pending._result.status == pq.ExecStatus.COMMAND_OK:
                self._prepared.add(key, name)
            else:
                self._prepared.not_made(key)
        for pending, key in self._prepared_runs:
            result = pending._result
            if result is not None and result.error_field(pq.DiagnosticField.SQLSTATE) == PLAN_NO_LONGER_FITS:
                self._prepared.drop(key)


def _error(result: pq.abc.PGresult, raw: psycopg.Connection) -> psycopg.Error:
    if result.status == pq.ExecStatus.PIPELINE_ABORTED:
        return errors.OperationalError("the pipeline was aborted")
    return errors.error_from_result(result, encoding=raw.info.encoding)


def _flush(pgconn) -> None:
    """Sends everything queued, reading the server's results meanwhile: a batch larger than the socket's buffers
    would otherwise wait on a server waiting for its results to be read."""
    while pgconn.flush():
        readable, _writable, _ = select.select([pgconn.socket], [pgconn.socket], [])
        if readable:
            pgconn.consume_input()


def _next_result(pgconn) -> pq.abc.PGresult | None:
    while pgconn.is_busy():
        select.select([pgconn.socket], [], [])
        pgconn.consume_input()
    return pgconn.get_result()


def _read_to_sync(pgconn) -> None:
    while True:
        result = _next_result(pgconn)
        if result is not None and result.status == pq.ExecStatus.PIPELINE_SYNC:
            return
        if result is None and pgconn.status != pq.ConnStatus.OK:
            raise errors.OperationalError("the connection was lost")
