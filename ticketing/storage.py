"""Storage in SQLAlchemy 2 Core: SQLite by default (WAL, synchronous=FULL), PostgreSQL by a URL change.

Amounts are stored as integer cents and odds as integer hundredths, so no database ever rounds a float.
Datetimes are stored as naive UTC. Write transactions on SQLite start with BEGIN IMMEDIATE, so a sale reads
the odds and writes the ticket under one write lock: the odds it was checked against cannot move before it
commits. On PostgreSQL the coupon's event rows are locked FOR SHARE for the same reason, and its own row too: a
cancellation, a result or a correction of the coupon (FOR UPDATE of that row) waits for the sales in flight and sees
their tickets, and a sale that waited on it reads the coupon as it left it.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from psycopg.pq import TransactionStatus
from pydantic import BaseModel, Field
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    create_engine,
    event,
    false,
    insert,
    inspect,
    literal_column,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.schema import CreateColumn

from ticketing.contract.models import (
    BET_AWAY,
    BET_DRAW,
    BET_HOME,
    DEFAULT_MAX_PAYOUT,
    DEFAULT_TIMEZONE,
    PICK_LABELS,
    Coupon,
    CouponEvent,
    CouponStatus,
    EventOutcome,
    EventResult,
    EventStatus,
    PayoutRecord,
    StakeRules,
    Ticket,
    TicketCursor,
    TicketEvent,
    TicketQuery,
    TicketSettlement,
    TicketStatus,
)
from ticketing.contract.money import from_cents, to_cents
from ticketing.selling.pricing import TaxProfile
from ticketing.writer_lock import SQLiteWriterLock

metadata = MetaData()

operators = Table(
    "operators",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("secret", String(256)),
    Column("excise_rate_bp", Integer, nullable=False, default=0),
    Column("withholding_rate_bp", Integer, nullable=False, default=2000),
    Column("cancel_window_minutes", Integer, nullable=False, server_default="10"),
    Column("correction_window_hours", Integer, nullable=False, server_default="24"),
    Column("max_payout_cents", BigInteger, nullable=False, server_default=str(to_cents(DEFAULT_MAX_PAYOUT))),
    Column("timezone", String(64), nullable=False, server_default=DEFAULT_TIMEZONE),
    # Where its players' money lives: `internal` (the accounts table) or `pam` (its own wallet, called at this URL and
    # signed with this secret: README "Wallets"). Its shops' accounts are internal either way.
    Column("wallet", String(8), nullable=False, server_default="internal"),
    Column("wallet_url", String(500)),
    Column("wallet_secret", String(256)),
)
accounts = Table(
    "accounts",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("operator", String(64), ForeignKey("operators.name"), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("balance_cents", BigInteger, nullable=False),
    # `shop`: a shop's till account, its winners paid in cash at the counter; `player`: credited at settlement.
    Column("kind", String(8), nullable=False, server_default="player"),
)
coupons = Table(
    "coupons",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("closes_at", DateTime, nullable=False),
    Column("min_stake_cents", BigInteger, nullable=False),
    Column("max_stake_cents", BigInteger, nullable=False),
    Column("fixed_stake_cents", BigInteger),
    Column("max_payout_cents", BigInteger),
    Column("max_void_events", Integer, nullable=False, server_default="3"),
    # The operator that published it: only its credentials see, sell on, change or settle it. NULL only for a coupon
    # from before owners that `give_unowned_coupons_to_the_only_operator` could not attribute: nobody sees it.
    Column("operator", String(64), ForeignKey("operators.name")),
)
coupon_events = Table(
    "coupon_events",
    metadata,
    Column("coupon_id", String(64), ForeignKey("coupons.id", ondelete="CASCADE"), primary_key=True),
    Column("event_id", BigInteger, primary_key=True),
    Column("position", Integer, nullable=False),
    Column("home", String(120), nullable=False),
    Column("away", String(120), nullable=False),
    Column("competition", String(120), nullable=False),
    Column("kickoff", DateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("odds_home", Integer),
    Column("odds_draw", Integer),
    Column("odds_away", Integer),
)
tickets = Table(
    "tickets",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("code", String(6), nullable=False, unique=True),
    Column("operator", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("token_sha256", String(64), nullable=False),
    Column("coupon_id", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("stake_cents", BigInteger, nullable=False),
    Column("net_stake_cents", BigInteger, nullable=False),
    Column("excise_cents", BigInteger, nullable=False),
    Column("total_odds", String(300), nullable=False),  # exact, up to 64 odds of 7 digits each
    Column("payout_cents", BigInteger, nullable=False),
    Column("tax_cents", BigInteger, nullable=False),
    Column("net_payout_cents", BigInteger, nullable=False),
    Column("odds_diff", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("result", String(16), nullable=False),
    Column("approved", Boolean, nullable=False),
    Column("source", String(16), nullable=False),
    Column("type", String(16), nullable=False),
    Column("atag", String(128)),
    Column("idempotency_key", String(200)),
    Column("request_sha256", String(64), nullable=False),
    Column("created", DateTime, nullable=False),
    Column("updated", DateTime, nullable=False),
    Column("sold_by", String(64)),
    # A coupon sandbox's test ticket (`ticketing/coupons`): no account, no cash, in no real list or total.
    Column("test", Boolean, nullable=False, server_default=false()),
    Column("wallet", String(8), nullable=False, server_default="internal"),  # the wallet its stake was taken by
    UniqueConstraint("operator", "idempotency_key", name="uq_tickets_idempotency"),
    Index("ix_tickets_operator_created", "operator", "created"),
    Index("ix_tickets_coupon_status", "coupon_id", "status"),
    # Partial, so that the engine's own sales (most of them) add nothing to them: the PAM sales still waiting for
    # their wallet's answer (swept every few seconds), and which coupons have PAM tickets at all (settlement asks).
    Index(
        "ix_tickets_pam_unconfirmed",
        "created",
        sqlite_where=text("wallet = 'pam' AND status = 'new'"),
        postgresql_where=text("wallet = 'pam' AND status = 'new'"),
    ),
    Index(
        "ix_tickets_pam_coupon",
        "coupon_id",
        sqlite_where=text("wallet = 'pam'"),
        postgresql_where=text("wallet = 'pam'"),
    ),
)
ticket_events = Table(
    "ticket_events",
    metadata,
    # No foreign key: a ticket's picks are written with it, in its transaction, by the sale alone, and deleted only
    # with it (a sandbox's test tickets, `ticketing/coupons/queries.py`). On PostgreSQL the key's check locked the
    # ticket's row once a pick, 52 times a batch of four sales: 4-11% of the sale rate (README "Performance").
    Column("ticket_id", String(24), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("event_id", BigInteger, nullable=False),
    Column("bet", Integer, nullable=False),
    Column("odds", Integer, nullable=False),
)

# ---- drafts and their sandboxes (ticketing/coupons) --------------------------------------------------------------

coupon_drafts = Table(
    "coupon_drafts",
    metadata,
    Column("coupon_id", String(64), primary_key=True),
    Column("operator", String(64), ForeignKey("operators.name"), nullable=False),
    # The coupon in the engine's JSON format, every datetime with its offset: what publishing puts on sale.
    Column("body", Text, nullable=False),
    Column("version", String(64), nullable=False),
    # The id of the draft's sandbox copy in `coupons`: never a coupon id anyone can publish (see ticketing/coupons).
    Column("sandbox_id", String(64), nullable=False, unique=True),
    Column("updated", DateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

# ---- after the sale (ticketing/settlement) ------------------------------------------------------------------------

bonus_prizes = Table(
    "bonus_prizes",
    metadata,
    Column("coupon_id", String(64), ForeignKey("coupons.id", ondelete="CASCADE"), primary_key=True),
    Column("correct", Integer, primary_key=True),
    Column("amount_cents", BigInteger, nullable=False),
)
event_results = Table(
    "event_results",
    metadata,
    Column("coupon_id", String(64), primary_key=True),
    Column("event_id", BigInteger, primary_key=True),
    Column("result", String(8), nullable=False),
    Column("entered_at", DateTime, nullable=False),
    Column("entered_by", String(64), nullable=False),
)
coupon_rounds = Table(
    "coupon_rounds",
    metadata,
    Column("coupon_id", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("settled_at", DateTime, nullable=False),
    Column("corrections", Integer, nullable=False),
)
ticket_settlements = Table(
    "ticket_settlements",
    metadata,
    Column("ticket_id", String(24), ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("coupon_id", String(64), nullable=False),
    Column("result", String(8), nullable=False),
    Column("correct", Integer, nullable=False),
    Column("voids", Integer, nullable=False),
    Column("prize_tier", Integer),
    Column("payout_cents", BigInteger, nullable=False),
    Column("tax_cents", BigInteger, nullable=False),
    Column("net_payout_cents", BigInteger, nullable=False),
    Column("refund_cents", BigInteger, nullable=False),
    Column("credited_cents", BigInteger, nullable=False),
    Column("settled_at", DateTime, nullable=False),
    Index("ix_ticket_settlements_coupon", "coupon_id"),
)
shifts = Table(
    "shifts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("operator", String(64), nullable=False),
    Column("till", String(64), nullable=False),
    Column("opened_at", DateTime, nullable=False),
    Column("float_cents", BigInteger, nullable=False),
    Column("closed_at", DateTime),
    Column("expected_cents", BigInteger),
    Column("counted_cents", BigInteger),
    Column("difference_cents", BigInteger),
    Index(
        "ux_shifts_one_open_per_till",
        "operator",
        "till",
        unique=True,
        sqlite_where=text("closed_at IS NULL"),
        postgresql_where=text("closed_at IS NULL"),
    ),
)
cash_operations = Table(
    "cash_operations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("shift_id", Integer, ForeignKey("shifts.id"), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("ticket_id", String(24)),
    Column("amount_cents", BigInteger, nullable=False),  # signed: cash into the till is positive
    Column("at", DateTime, nullable=False),
    Index("ix_cash_operations_shift", "shift_id"),
)
payouts = Table(
    "payouts",
    metadata,
    # One row per ticket: the primary key is what makes a second payout impossible, from any till or process.
    Column("ticket_id", String(24), ForeignKey("tickets.id"), primary_key=True),
    Column("operator", String(64), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("paid_at", DateTime, nullable=False),
    Column("till", String(64), nullable=False),
    Column("shift_id", Integer, ForeignKey("shifts.id"), nullable=False),
    Column("follow_up", String(200)),
)
# ---- the operator's wallet (ticketing/wallets) ---------------------------------------------------------------------

wallet_outbox = Table(
    "wallet_outbox",
    metadata,
    # The order messages are sent in, per ticket: a message waits until every earlier one of its ticket is delivered.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("operator", String(64), nullable=False),
    Column("ticket_id", String(24), nullable=False),
    Column("action", String(16), nullable=False),
    Column("reason", String(200)),
    # Amounts a message recomputes (ticket_update, ticket_void); the others send the ticket's own.
    Column("gross_payout_cents", BigInteger),
    Column("wht_amount_cents", BigInteger),
    Column("net_payout_cents", BigInteger),
    # pending, delivered, failed (undeliverable until retried by hand), cancelled (a ticket_closed a correction
    # replaced); a sale's own ticket_create is recorded `delivered` or `discarded`.
    Column("state", String(10), nullable=False),
    Column("created", DateTime, nullable=False),
    Column("due", DateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", String(300)),
    Column("lease_until", DateTime),
    Column("delivered_at", DateTime),
    Index("ix_wallet_outbox_ticket", "ticket_id", "id"),
    Index("ix_wallet_outbox_due", "state", "due"),
)

credentials = Table(
    "credentials",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("operator", String(64), ForeignKey("operators.name"), nullable=False),
    Column("role", String(16), nullable=False),
    # Stored as issued: checking an HMAC needs the secret itself (README "Access").
    Column("secret", String(256), nullable=False),
    Column("created", DateTime, nullable=False),
    Column("revoked", DateTime),
)
request_signatures = Table(
    "request_signatures",
    metadata,
    Column("operator", String(64), primary_key=True),
    Column("signature", String(64), primary_key=True),
    Column("expires", BigInteger, nullable=False),
    Column("ticket_id", String(24)),
    Index("ix_request_signatures_expires", "expires"),
)

# The statements of a sale, built once: constructing Core expressions per call was most of a sale's CPU time.
SELECT_OPERATOR = select(operators).where(operators.c.name == bindparam("name"))
SELECT_ACCOUNT = select(accounts).where(accounts.c.token_sha256 == bindparam("token"))
DEBIT_ACCOUNT = (
    update(accounts)
    .where(and_(accounts.c.token_sha256 == bindparam("token"), accounts.c.balance_cents >= bindparam("cents")))
    .values(balance_cents=accounts.c.balance_cents - bindparam("cents"))
)
OWNED_COUPON = and_(coupons.c.id == bindparam("coupon_id"), coupons.c.operator == bindparam("operator"))
SELECT_COUPON = select(coupons).where(OWNED_COUPON)
SELECT_COUPON_WITH_EVENTS = (
    select(coupons, coupon_events)
    .join(coupon_events, coupon_events.c.coupon_id == coupons.c.id)
    .where(OWNED_COUPON)
    .order_by(coupon_events.c.position)
)
SELECT_COUPON_WITH_EVENTS_FOR_SHARE = SELECT_COUPON_WITH_EVENTS.with_for_update(read=True, of=[coupons, coupon_events])
COUPON_COLUMNS = len(coupons.c)
INSERT_TICKET = insert(tickets)
INSERT_TICKET_EVENTS = insert(ticket_events)


TICKET_COLUMNS = (
    "id",
    "code",
    "operator",
    "user_id",
    "token_sha256",
    "coupon_id",
    "currency",
    "stake_cents",
    "net_stake_cents",
    "excise_cents",
    "total_odds",
    "payout_cents",
    "tax_cents",
    "net_payout_cents",
    "odds_diff",
    "status",
    "result",
    "approved",
    "source",
    "type",
    "atag",
    "idempotency_key",
    "request_sha256",
    "created",
    "updated",
    "sold_by",
    "wallet",
)


SETTLED_STATUSES = {TicketStatus.RESULTED.value, TicketStatus.CANCELLED.value, TicketStatus.CLOSED.value}
NEWEST_FIRST = (tickets.c.created.desc(), tickets.c.id.desc())


@dataclass(frozen=True)
class _JsonSql:
    """How one database writes JSON: the pieces `_ticket_json` builds a ticket's object from."""

    obj_function: str
    money: Callable[[str], str]
    moment: Callable[[str], str]
    boolean: Callable[[str], str]
    number: Callable[[str], str]
    array: Callable[[str, str, str], str]
    """(element, rows, order column): a JSON array of `element` over the rows `o`, in that order."""

    def obj(self, *fields: tuple[str, str]) -> str:
        pairs = ", ".join(f"'{name}', {value}" for name, value in fields)
        return f"{self.obj_function}({pairs})"


SQLITE_JSON = _JsonSql(
    "json_object",
    # Integer cents (or hundredths of odds) with two decimals; json() keeps a number's text as it is written.
    lambda column: f"json(printf('%d.%02d', {column} / 100, {column} % 100))",
    lambda column: f"strftime('%Y-%m-%dT%H:%M:%S', {column})",
    lambda condition: f"json(CASE WHEN {condition} THEN 'true' ELSE 'false' END)",
    lambda column: f"json({column})",
    # SQLite has no ORDER BY inside an aggregate before 3.44: it aggregates the rows in the subquery's order.
    lambda element, rows, order: f"(SELECT json_group_array({element}) FROM ({rows} ORDER BY {order}) AS o)",
)
POSTGRES_JSON = _JsonSql(
    "json_build_object",
    lambda column: f"round({column} / 100.0, 2)",
    lambda column: f"to_char({column}, 'YYYY-MM-DD\"T\"HH24:MI:SS')",
    lambda condition: f"coalesce(({condition}), false)",
    lambda column: f"{column}::numeric",
    lambda element, rows, order: (
        f"(SELECT coalesce(json_agg({element} ORDER BY o.{order}), '[]'::json) FROM ({rows}) AS o)"
    ),
)


def _ticket_json(sql: _JsonSql) -> str:
    """A row of `tickets` (outer-joined to its settlement and payout) as the JSON `wire.dumps` writes of its `Ticket`:
    the same fields in the same order, `null` where the model has None."""
    money, moment = sql.money, sql.moment
    picks = sql.array(
        sql.obj(("id", "o.event_id"), ("bet", "o.bet"), ("odds", money("o.odds"))),
        "SELECT event_id, bet, odds, position FROM ticket_events WHERE ticket_id = tickets.id",
        "position",
    )
    label = "CASE o.bet " + " ".join(f"WHEN {bet} THEN '{text}'" for bet, text in PICK_LABELS.items()) + " END"
    outcomes = sql.array(
        sql.obj(
            ("id", "o.event_id"),
            ("result", "o.result"),
            ("correct", sql.boolean(f"o.result = '{EventResult.VOID.value}' OR o.result = {label}")),
        ),
        "SELECT te.event_id, te.bet, te.position, r.result FROM ticket_events AS te JOIN event_results AS r"
        " ON r.coupon_id = ticket_settlements.coupon_id AND r.event_id = te.event_id WHERE te.ticket_id = tickets.id",
        "position",
    )
    paid = sql.obj(
        ("kind", "payouts.kind"),
        ("amount", money("payouts.amount_cents")),
        ("paid_at", moment("payouts.paid_at")),
        ("till", "payouts.till"),
        ("shift_id", "payouts.shift_id"),
        ("follow_up", "payouts.follow_up"),
    )
    settlement = sql.obj(
        ("result", "ticket_settlements.result"),
        ("correct", "ticket_settlements.correct"),
        ("voids", "ticket_settlements.voids"),
        ("prize_tier", "ticket_settlements.prize_tier"),
        ("payout", money("ticket_settlements.payout_cents")),
        ("tax", money("ticket_settlements.tax_cents")),
        ("net_payout", money("ticket_settlements.net_payout_cents")),
        ("refund", money("ticket_settlements.refund_cents")),
        ("credited", money("ticket_settlements.credited_cents")),
        ("settled_at", moment("ticket_settlements.settled_at")),
        ("events", outcomes),
        ("paid", f"CASE WHEN payouts.ticket_id IS NOT NULL THEN {paid} END"),
    )
    settled = ", ".join(f"'{status}'" for status in sorted(SETTLED_STATUSES))
    return sql.obj(
        ("id", "tickets.id"),
        ("code", "tickets.code"),
        ("operator", "tickets.operator"),
        ("coupon_id", "tickets.coupon_id"),
        ("stake", money("tickets.stake_cents")),
        ("currency", "tickets.currency"),
        ("net_stake", money("tickets.net_stake_cents")),
        ("excise", money("tickets.excise_cents")),
        ("total_odds", sql.number("tickets.total_odds")),
        ("payout", money("tickets.payout_cents")),
        ("tax", money("tickets.tax_cents")),
        ("net_payout", money("tickets.net_payout_cents")),
        ("odds_diff", money("tickets.odds_diff")),
        ("status", "tickets.status"),
        ("result", "tickets.result"),
        ("approved", sql.boolean("tickets.approved")),
        ("source", "tickets.source"),
        ("type", "tickets.type"),
        ("atag", "tickets.atag"),
        ("user_id", "tickets.user_id"),
        ("events", picks),
        ("created", moment("tickets.created")),
        ("updated", moment("tickets.updated")),
        (
            "settlement",
            f"CASE WHEN tickets.status IN ({settled}) AND ticket_settlements.ticket_id IS NOT NULL"
            f" THEN {settlement} END",
        ),
    )


TICKET_JSON = {"sqlite": _ticket_json(SQLITE_JSON), "postgresql": _ticket_json(POSTGRES_JSON)}
PAGE_JSON = {
    # SQLite keeps the order of the subquery's rows in group_concat; PostgreSQL is told the order.
    "sqlite": "'[' || coalesce(group_concat(docs.doc, ','), '') || ']'",
    "postgresql": (
        "'[' || coalesce(string_agg(docs.doc::text, ',' ORDER BY docs.created DESC, docs.id DESC), '') || ']'"
    ),
}

ODDS_COLUMNS = {BET_HOME: "odds_home", BET_DRAW: "odds_draw", BET_AWAY: "odds_away"}
EVENT_COLUMN_INDEX = {name: i for i, name in enumerate(coupon_events.c.keys())}
COUPON_COLUMN_INDEX = {name: i for i, name in enumerate(coupons.c.keys())}
ODDS_INDEXES = [(bet, EVENT_COLUMN_INDEX[column]) for bet, column in ODDS_COLUMNS.items()]
BASIS_POINTS = Decimal(10000)


class Operator(BaseModel):
    name: str
    currency: str
    secret: str | None = None
    tax_profile: TaxProfile = TaxProfile()
    cancel_window_minutes: int = 10
    """A till may cancel a ticket it sold for this long after the sale (0: never), and only before the deadline."""
    correction_window_hours: int = 24
    """Results of a settled coupon can be corrected for this long; then the coupon is final."""
    max_payout: Decimal = DEFAULT_MAX_PAYOUT
    """The cap on any ticket's payout, whatever the coupon's own cap."""
    timezone: str = DEFAULT_TIMEZONE
    """The operator's IANA zone: a coupon file's times without an offset are read in it, and shown in it."""
    wallet: str = "internal"
    """`internal` or `pam` (then `wallet_url` and `wallet_secret` say where and how its wallet is called)."""
    wallet_url: str | None = None
    wallet_secret: str | None = Field(default=None, repr=False)


class AccountHolder(BaseModel):
    token_sha256: str
    operator: str
    user_id: str
    kind: str = "player"
    """`shop` (a shop's till account: winners paid in cash at the counter) or `player` (credited at settlement)."""


class Account(AccountHolder):
    balance: Decimal


TICKET_FILTERS = {
    "operator": tickets.c.operator == bindparam("operator", type_=String),
    "user_id": tickets.c.user_id == bindparam("user_id", type_=String),
    "coupon_id": tickets.c.coupon_id == bindparam("coupon_id", type_=String),
    "status": tickets.c.status == bindparam("status", type_=String),
    "created_from": tickets.c.created >= bindparam("created_from", type_=tickets.c.created.type),
    "created_to": tickets.c.created < bindparam("created_to", type_=tickets.c.created.type),
    "skip_types": tickets.c.type.not_in(bindparam("skip_types", type_=String, expanding=True)),
    "after": tuple_(tickets.c.created, tickets.c.id)
    < tuple_(bindparam("after_created", type_=tickets.c.created.type), bindparam("after_id", type_=String)),
}
"""The filters of a ticket list, each with its values as bind parameters (`ticket_filters`)."""


def ticket_filters(query: TicketQuery) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The names of the `TICKET_FILTERS` a query sets, and its values for them."""
    values: dict[str, Any] = {}
    for field in ("operator", "user_id", "coupon_id"):
        if getattr(query, field) is not None:
            values[field] = getattr(query, field)
    filters = list(values)
    if query.status is not None:
        filters.append("status")
        values["status"] = query.status.value
    for field in ("created_from", "created_to"):
        if getattr(query, field) is not None:
            filters.append(field)
            values[field] = _naive_utc(getattr(query, field))
    if query.skip_types:
        filters.append("skip_types")
        values["skip_types"] = [t.value for t in query.skip_types]
    if query.after is not None:
        filters.append("after")
        values |= {"after_created": _naive_utc(query.after.created), "after_id": query.after.id}
    return tuple(filters), values


def filter_conditions(filters: tuple[str, ...]) -> list:
    """Real tickets only: every list, shift report and export reads here, and no test ticket belongs in one."""
    return [~tickets.c.test, *(TICKET_FILTERS[name] for name in filters)]


@lru_cache(maxsize=512)
def ticket_page_statements(dialect: str, filters: tuple[str, ...]):
    """A page of tickets written as JSON by the database, and the rows at its edge (the last one and the one after
    it), for one set of filters: the values come at execution (`limit`, `last`, and the filters')."""
    where = and_(*filter_conditions(filters))
    newest = select(tickets.c.id).where(where).order_by(*NEWEST_FIRST)
    page = newest.limit(bindparam("limit", type_=Integer)).subquery("page")
    documents = (
        select(literal_column(TICKET_JSON[dialect]).label("doc"), tickets.c.created, tickets.c.id)
        .select_from(
            tickets.join(page, page.c.id == tickets.c.id)
            .outerjoin(ticket_settlements, ticket_settlements.c.ticket_id == tickets.c.id)
            .outerjoin(payouts, payouts.c.ticket_id == tickets.c.id)
        )
        .order_by(*NEWEST_FIRST)
        .subquery("docs")
    )
    body = select(literal_column(PAGE_JSON[dialect])).select_from(documents)
    edge = (
        select(tickets.c.created, tickets.c.id)
        .where(where)
        .order_by(*NEWEST_FIRST)
        .offset(bindparam("last", type_=Integer))
        .limit(2)
    )
    return body, edge


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def _odds_int(odds: Decimal) -> int:
    return int(odds * 100)


def _odds_dec(hundredths: int) -> Decimal:
    return (Decimal(hundredths) / 100).quantize(Decimal("0.01"))


def database_url(setting: str) -> str:
    """`TICKETING_DB` is a database URL, or else a path to an SQLite file."""
    if "://" in setting:
        return setting
    path = Path(setting).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def add_missing_columns_and_indexes(conn: Connection) -> None:
    """A database made by an earlier version gets the columns and indexes added since (every added column is
    nullable or has a server default): `create_all` creates missing tables only. Nothing is ever dropped."""
    inspector = inspect(conn)
    for table in metadata.sorted_tables:
        existing = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in existing:
                conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {CreateColumn(column).compile(conn)}"))
        for index in table.indexes:
            index.create(conn, checkfirst=True)


def drop_the_picks_foreign_key(conn: Connection) -> None:
    """A PostgreSQL database made by an earlier version loses the picks' foreign key to their ticket, as a new one is
    made without it (`ticket_events`). SQLite cannot drop a constraint without making the table anew: an earlier
    SQLite database keeps it (checked there by a lookup of an index page the sale has just written)."""
    if conn.dialect.name == "sqlite":
        return
    for key in inspect(conn).get_foreign_keys("ticket_events"):
        if key["referred_table"] == "tickets":
            conn.execute(text(f'ALTER TABLE ticket_events DROP CONSTRAINT "{key["name"]}"'))


def give_unowned_coupons_to_the_only_operator(conn: Connection) -> None:
    """Coupons from before owners go to the database's only operator (the demo's case); with several operators
    nobody can tell whose they were, so they stay nobody's and unseen."""
    names = conn.execute(select(operators.c.name).limit(2)).scalars().all()
    if len(names) == 1:
        conn.execute(update(coupons).where(coupons.c.operator.is_(None)).values(operator=names[0]))


@lru_cache(maxsize=256)
def _numbered(statement: str) -> str:
    """A statement's `%s` marks as PostgreSQL's own, `$1`, `$2`...: the sale's statements hold no other `%`."""
    parts = statement.split("%s")
    return "".join(f"{part}${number}" for number, part in enumerate(parts[:-1], 1)) + parts[-1]


def _begins_by_itself(raw) -> bool:
    """Whether this driver connection is the batch writer's on PostgreSQL (`Store.batch_write`), outside a
    transaction: its statements would each commit alone until it is sent a BEGIN."""
    return getattr(raw, "autocommit", False) is True and raw.info.transaction_status == TransactionStatus.IDLE


def _in_transaction(raw):
    if _begins_by_itself(raw):
        raw.execute("BEGIN")
    return raw


def _driver_in_transaction(conn: Connection):
    """The driver's connection under `conn`, its transaction begun (`_in_transaction`)."""
    return _in_transaction(conn.connection.driver_connection)


def _begin_before_the_statement(conn, _cursor, _statement, _parameters, _context, _executemany) -> None:
    _driver_in_transaction(conn)


def _make_engine(url: str) -> Engine:
    if make_url(url).get_backend_name() != "sqlite":
        # psycopg prepares nothing of its own: its rollback of a transaction in which it had prepared any statement
        # sends DEALLOCATE ALL, which drops the sale's statements too (`ticketing/selling/pg_pipeline.py` prepares
        # those itself, and they would then be missing from the next batch).
        connect_args = {"prepare_threshold": None}
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, connect_args=connect_args)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=10)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        # Take transaction control from the sqlite3 module so that BEGIN is ours (SQLAlchemy's pysqlite recipe).
        dbapi_connection.isolation_level = None
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(connection):
        # On the driver's connection: SQLAlchemy's execution layer would add ~40 µs to every transaction, a sale
        # batch's among them.
        statement = "BEGIN IMMEDIATE" if connection.get_execution_options().get("write") else "BEGIN"
        connection.connection.driver_connection.execute(statement)

    return engine


class Store:
    def __init__(self, url: str):
        self.url = url
        self.engine = _make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # SQLite has one writer at a time; queueing for it (`writer_lock.py`) is fair and immediate, where SQLite's
        # own busy handler would poll with growing sleeps (seconds of tail latency under load).
        self._write_lock = self._writer_lock()
        self._coupons_seen: dict[str, tuple[tuple, Coupon]] = {}
        self._batch_connection: Connection | None = None
        self._sale_coupons: dict[tuple[str, str], Coupon | None] = {}
        self._sale_coupons_read_on: tuple[Any, int] | None = None

    def _writer_lock(self) -> AbstractContextManager:
        if not self.is_sqlite:
            return nullcontext()
        path = make_url(self.url).database
        return SQLiteWriterLock(path) if path and path != ":memory:" else threading.Lock()

    def create_schema(self) -> None:
        with self.setup_lock():
            metadata.create_all(self.engine)
            with self.engine.begin() as conn:
                add_missing_columns_and_indexes(conn)
                drop_the_picks_foreign_key(conn)
                give_unowned_coupons_to_the_only_operator(conn)

    @contextmanager
    def setup_lock(self) -> Iterator[None]:
        """Held while a process creates the schema and seeds: several uvicorn workers start at once on PostgreSQL."""
        if self.is_sqlite:
            yield
            return
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(455)"))
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(455)"))
                conn.commit()

    def dispose(self) -> None:
        if self._batch_connection is not None:
            self._batch_connection.close()
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back on any exception."""
        with self._write_lock, self.engine.connect() as conn:
            conn.execution_options(write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def batch_write(self) -> Iterator[Connection]:
        """`write()` for the group commit's one writer thread, on a connection it keeps between batches: a batch
        does not take a connection from the pool and give it back (nor, on PostgreSQL, ping the server first). A
        batch that finds the connection lost fails (its sales are then written alone); SQLAlchemy has invalidated
        the connection, and it connects again for the next batch.

        On PostgreSQL the driver's connection is in autocommit mode and the transaction's BEGIN is sent with its
        first statement: psycopg sends its own BEGIN and waits for its answer before anything else, even in a
        pipeline, which made it a round trip of every batch of its own. A batch's first statement, whoever sends it,
        sends the BEGIN first: the sale's reads put it at the head of their pipeline (`SaleStatements.read_ahead`),
        and any other statement on this connection sends it before itself (`_begin_before_the_statement`). The
        commit and the rollback are psycopg's, sent when a transaction is open, autocommit or not."""
        with self._write_lock:
            if self._batch_connection is None:
                self._batch_connection = self.engine.connect()
                self._batch_connection.execution_options(write=True)
                if not self.is_sqlite:
                    event.listen(self._batch_connection, "before_cursor_execute", _begin_before_the_statement)
            with self._batch_connection.begin():
                raw = self._batch_connection.connection.driver_connection
                if not self.is_sqlite and not raw.autocommit:
                    raw.autocommit = True
                yield self._batch_connection

    # ---- operators and accounts ---------------------------------------------------------------------------

    def load_operator(self, conn: Connection, name: str) -> Operator | None:
        row = conn.execute(SELECT_OPERATOR, {"name": name}).first()
        if row is None:
            return None
        profile = TaxProfile(
            excise_rate=Decimal(row.excise_rate_bp) / BASIS_POINTS,
            withholding_rate=Decimal(row.withholding_rate_bp) / BASIS_POINTS,
        )
        return Operator(
            name=row.name,
            currency=row.currency,
            secret=row.secret,
            tax_profile=profile,
            cancel_window_minutes=row.cancel_window_minutes,
            correction_window_hours=row.correction_window_hours,
            max_payout=from_cents(row.max_payout_cents),
            timezone=row.timezone,
            wallet=row.wallet,
            wallet_url=row.wallet_url,
            wallet_secret=row.wallet_secret,
        )

    def save_operator(self, conn: Connection, op: Operator) -> None:
        values = {
            "currency": op.currency,
            "secret": op.secret,
            "excise_rate_bp": int(op.tax_profile.excise_rate * BASIS_POINTS),
            "withholding_rate_bp": int(op.tax_profile.withholding_rate * BASIS_POINTS),
            "cancel_window_minutes": op.cancel_window_minutes,
            "correction_window_hours": op.correction_window_hours,
            "max_payout_cents": to_cents(op.max_payout),
            "timezone": op.timezone,
            "wallet": op.wallet,
            "wallet_url": op.wallet_url,
            "wallet_secret": op.wallet_secret,
        }
        if conn.execute(update(operators).where(operators.c.name == op.name).values(**values)).rowcount == 0:
            conn.execute(insert(operators).values(name=op.name, **values))

    def load_account(self, conn: Connection, token_sha256: str) -> Account | None:
        row = conn.execute(SELECT_ACCOUNT, {"token": token_sha256}).first()
        if row is None:
            return None
        return Account(
            token_sha256=row.token_sha256,
            operator=row.operator,
            user_id=row.user_id,
            kind=row.kind,
            balance=from_cents(row.balance_cents),
        )

    def add_account(self, conn: Connection, account: Account) -> None:
        conn.execute(
            insert(accounts).values(
                token_sha256=account.token_sha256,
                operator=account.operator,
                user_id=account.user_id,
                balance_cents=to_cents(account.balance),
                kind=account.kind,
            )
        )

    def set_account_kind(self, conn: Connection, token_sha256: str, kind: str) -> None:
        conn.execute(update(accounts).where(accounts.c.token_sha256 == token_sha256).values(kind=kind))

    def debit(self, conn: Connection, token_sha256: str, amount: Decimal) -> bool:
        """Take `amount` off the balance if it covers it; False (and nothing changed) if it does not."""
        result = conn.execute(DEBIT_ACCOUNT, {"token": token_sha256, "cents": to_cents(amount)})
        return result.rowcount == 1

    # ---- coupons --------------------------------------------------------------------------------------------

    def load_coupon(self, conn: Connection, coupon_id: str, operator: str, lock: bool = False) -> Coupon | None:
        """The operator's coupon with its events in order, in one query (a sale reads it every time); None when
        there is no such coupon or it is another operator's."""
        query = SELECT_COUPON_WITH_EVENTS_FOR_SHARE if lock and not self.is_sqlite else SELECT_COUPON_WITH_EVENTS
        owned = {"coupon_id": coupon_id, "operator": operator}
        rows = tuple(conn.execute(query, owned).all())
        if not rows:
            row = conn.execute(SELECT_COUPON, owned).first()
            return None if row is None else self._coupon(row, [])
        return self._coupon_from_rows(coupon_id, rows)

    def load_coupon_to_sell(self, conn: Connection, coupon_id: str, operator: str, rows: tuple) -> Coupon | None:
        """`load_coupon(lock=True)` for a batch of sales. On PostgreSQL from `rows`, the coupon's rows with its events
        as the batch read them in its pipeline (`SaleStatements.read_ahead`), locked FOR SHARE.

        On SQLite without reading the coupon again while nothing else has committed since this connection last read
        it: `PRAGMA data_version` changes, for a connection, whenever another connection commits; unchanged, the
        batch's snapshot holds exactly what the last batch's did, and this connection itself writes only sales
        (never a coupon or an event). Every odds or status change is another connection's commit, so it is read
        before the next batch prices anything."""
        if not self.is_sqlite:
            # No rows: no such coupon, one without events, or one published again since the pipeline's statement
            # began (its rows deleted and inserted anew): read as `load_coupon` reads it, locked as well.
            return (
                self._coupon_from_rows(coupon_id, rows)
                if rows
                else self.load_coupon(conn, coupon_id, operator, lock=True)
            )
        raw = conn.connection.driver_connection
        version = raw.execute("PRAGMA data_version").fetchone()[0]
        # The connection itself is kept, not its id: another connection's versions mean nothing here.
        if self._sale_coupons_read_on != (raw, version):
            self._sale_coupons.clear()
            self._sale_coupons_read_on = (raw, version)
        key = (coupon_id, operator)
        if key not in self._sale_coupons:
            self._sale_coupons[key] = self.load_coupon(conn, coupon_id, operator, lock=True)
        return self._sale_coupons[key]

    def coupon_owner(self, conn: Connection, coupon_id: str) -> str | None:
        """The operator whose coupon, or draft, has this id: nobody else may take the id over."""
        owner = conn.execute(select(coupons.c.operator).where(coupons.c.id == coupon_id)).scalar()
        if owner is None:
            owner = conn.execute(
                select(coupon_drafts.c.operator).where(coupon_drafts.c.coupon_id == coupon_id)
            ).scalar()
        return owner

    def is_draft(self, conn: Connection, coupon_id: str) -> bool:
        """A draft's sandbox copy: changed only through its sandbox."""
        status = conn.execute(select(coupons.c.status).where(coupons.c.id == coupon_id)).scalar()
        return status == CouponStatus.DRAFT.value

    def _coupon_from_rows(self, coupon_id: str, rows: tuple) -> Coupon:
        # Rebuilding the models is a third of reading a coupon: unchanged rows give back the coupon built last time.
        # Coupons are never modified in place, so sharing one between callers is safe.
        remembered = self._coupons_seen.get(coupon_id)
        if remembered is not None and remembered[0] == rows:
            return remembered[1]
        coupon = self._coupon(rows[0], [row[COUPON_COLUMNS:] for row in rows])
        self._coupons_seen[coupon_id] = (rows, coupon)
        return coupon

    def load_bonus_prizes(self, conn: Connection, coupon_id: str) -> dict[int, Decimal]:
        """Read apart from the coupon: a sale never needs them, settlement and the coupon's readers do."""
        query = select(bonus_prizes).where(bonus_prizes.c.coupon_id == coupon_id).order_by(bonus_prizes.c.correct)
        return {row.correct: from_cents(row.amount_cents) for row in conn.execute(query)}

    def closed_coupon_ids(self, conn: Connection, now: datetime, operator: str, limit: int) -> list[str]:
        """The operator's coupons past their deadline (or no longer open), latest deadline first."""
        query = (
            select(coupons.c.id)
            .where(
                coupons.c.operator == operator,
                coupons.c.status != CouponStatus.DRAFT.value,
                (coupons.c.closes_at <= _naive_utc(now)) | (coupons.c.status != CouponStatus.OPEN.value),
            )
            .order_by(coupons.c.closes_at.desc(), coupons.c.id.desc())
            .limit(limit)
        )
        return list(conn.execute(query).scalars())

    def open_coupon_ids(self, conn: Connection, now: datetime, operator: str) -> list[str]:
        query = (
            select(coupons.c.id)
            .where(
                and_(
                    coupons.c.operator == operator,
                    coupons.c.status == CouponStatus.OPEN.value,
                    coupons.c.closes_at > _naive_utc(now),
                )
            )
            .order_by(coupons.c.closes_at, coupons.c.id)
        )
        return list(conn.execute(query).scalars())

    def all_coupon_ids(self, conn: Connection) -> list[str]:
        """Every published coupon's id (drafts' sandboxes are not coupons anyone can sell on)."""
        query = select(coupons.c.id).where(coupons.c.status != CouponStatus.DRAFT.value).order_by(coupons.c.id)
        return list(conn.execute(query).scalars())

    def save_coupon(self, conn: Connection, coupon: Coupon, operator: str) -> None:
        """Insert or replace a coupon with all its events, owned by `operator`."""
        conn.execute(coupon_events.delete().where(coupon_events.c.coupon_id == coupon.id))
        conn.execute(coupons.delete().where(coupons.c.id == coupon.id))
        rules = coupon.stake_rules
        conn.execute(
            insert(coupons).values(
                id=coupon.id,
                name=coupon.name,
                currency=coupon.currency,
                status=coupon.status.value,
                closes_at=_naive_utc(coupon.closes_at),
                min_stake_cents=to_cents(rules.min_stake),
                max_stake_cents=to_cents(rules.max_stake),
                fixed_stake_cents=None if rules.fixed_stake is None else to_cents(rules.fixed_stake),
                max_payout_cents=None if coupon.max_payout is None else to_cents(coupon.max_payout),
                max_void_events=coupon.max_void_events,
                operator=operator,
            )
        )
        conn.execute(bonus_prizes.delete().where(bonus_prizes.c.coupon_id == coupon.id))
        if coupon.bonus_prizes:
            conn.execute(
                insert(bonus_prizes),
                [
                    {"coupon_id": coupon.id, "correct": correct, "amount_cents": to_cents(amount)}
                    for correct, amount in coupon.bonus_prizes.items()
                ],
            )
        conn.execute(
            insert(coupon_events),
            [
                {
                    "coupon_id": coupon.id,
                    "event_id": e.id,
                    "position": position,
                    "home": e.home,
                    "away": e.away,
                    "competition": e.competition,
                    "kickoff": _naive_utc(e.kickoff),
                    "status": e.status.value,
                    **{
                        column: _odds_int(e.odds[bet]) if bet in e.odds else None
                        for bet, column in ODDS_COLUMNS.items()
                    },
                }
                for position, e in enumerate(coupon.events)
            ],
        )

    def update_event(
        self,
        conn: Connection,
        coupon_id: str,
        event_id: int,
        status: EventStatus | None,
        odds: dict[int, Decimal] | None,
    ) -> bool:
        values: dict = {ODDS_COLUMNS[bet]: _odds_int(value) for bet, value in (odds or {}).items()}
        if status is not None:
            values["status"] = status.value
        where = and_(coupon_events.c.coupon_id == coupon_id, coupon_events.c.event_id == event_id)
        if not values:
            return conn.execute(select(coupon_events.c.event_id).where(where)).first() is not None
        return conn.execute(update(coupon_events).where(where).values(**values)).rowcount == 1

    @staticmethod
    def _coupon(row, event_rows) -> Coupon:
        # Rows come from our own validated writes: model_construct skips re-validating them on every odds refresh.
        events = [
            CouponEvent.model_construct(
                id=e[EVENT_COLUMN_INDEX["event_id"]],
                home=e[EVENT_COLUMN_INDEX["home"]],
                away=e[EVENT_COLUMN_INDEX["away"]],
                competition=e[EVENT_COLUMN_INDEX["competition"]],
                kickoff=_aware(e[EVENT_COLUMN_INDEX["kickoff"]]),
                status=EventStatus(e[EVENT_COLUMN_INDEX["status"]]),
                odds={bet: _odds_dec(e[i]) for bet, i in ODDS_INDEXES if e[i] is not None},
            )
            for e in event_rows
        ]
        column = COUPON_COLUMN_INDEX
        max_payout, fixed_stake = row[column["max_payout_cents"]], row[column["fixed_stake_cents"]]
        rules = StakeRules.model_construct(
            min_stake=from_cents(row[column["min_stake_cents"]]),
            max_stake=from_cents(row[column["max_stake_cents"]]),
            fixed_stake=None if fixed_stake is None else from_cents(fixed_stake),
        )
        return Coupon.model_construct(
            id=row[column["id"]],
            name=row[column["name"]],
            currency=row[column["currency"]],
            status=CouponStatus(row[column["status"]]),
            closes_at=_aware(row[column["closes_at"]]),
            stake_rules=rules,
            max_payout=None if max_payout is None else from_cents(max_payout),
            max_void_events=row[column["max_void_events"]],
            bonus_prizes={},
            events=events,
        )

    # ---- tickets -----------------------------------------------------------------------------------------------

    def insert_ticket(
        self,
        conn: Connection,
        ticket: Ticket,
        token_sha256: str,
        idempotency_key: str | None,
        request_sha256: str,
        sold_by: str | None = None,
        test: bool = False,
        wallet: str = "internal",
    ) -> None:
        conn.execute(
            INSERT_TICKET,
            dict(
                id=ticket.id,
                code=ticket.code,
                operator=ticket.operator,
                user_id=ticket.user_id,
                token_sha256=token_sha256,
                coupon_id=ticket.coupon_id,
                currency=ticket.currency,
                stake_cents=to_cents(ticket.stake),
                net_stake_cents=to_cents(ticket.net_stake),
                excise_cents=to_cents(ticket.excise),
                total_odds=str(ticket.total_odds),
                payout_cents=to_cents(ticket.payout),
                tax_cents=to_cents(ticket.tax),
                net_payout_cents=to_cents(ticket.net_payout),
                odds_diff=_odds_int(ticket.odds_diff),
                status=ticket.status.value,
                result=ticket.result.value,
                approved=ticket.approved,
                source=ticket.source.value,
                type=ticket.type.value,
                atag=ticket.atag,
                idempotency_key=idempotency_key,
                request_sha256=request_sha256,
                created=_naive_utc(ticket.created),
                updated=_naive_utc(ticket.updated),
                sold_by=sold_by,
                test=test,
                wallet=wallet,
            ),
        )
        conn.execute(
            INSERT_TICKET_EVENTS,
            [
                {"ticket_id": ticket.id, "position": i, "event_id": e.id, "bet": e.bet, "odds": _odds_int(e.odds)}
                for i, e in enumerate(ticket.events)
            ],
        )

    def has_tickets(self, conn: Connection, coupon_id: str) -> bool:
        """Whether a real ticket was sold on the coupon (a sandbox's test tickets do not count)."""
        query = select(tickets.c.id).where(tickets.c.coupon_id == coupon_id, ~tickets.c.test).limit(1)
        return conn.execute(query).first() is not None

    def find_ticket(self, conn: Connection, id_or_code: str) -> Ticket | None:
        """A real ticket: a test ticket's code finds nothing at the counter, the desk or over the API."""
        column = tickets.c.id if len(id_or_code) == 24 else tickets.c.code
        found = self.load_tickets(conn, select(tickets).where(column == id_or_code, ~tickets.c.test))
        return found[0] if found else None

    def query_tickets(self, conn: Connection, query: TicketQuery) -> list[Ticket]:
        filters, values = ticket_filters(query)
        statement = select(tickets).where(*filter_conditions(filters)).order_by(*NEWEST_FIRST).limit(query.limit)
        return self.load_tickets(conn, statement, values)

    def query_tickets_json(self, conn: Connection, query: TicketQuery) -> tuple[bytes, TicketCursor | None]:
        """The page `query_tickets` returns, as the JSON `wire.dumps` writes of it (the same fields in the same
        order, numbers with the same digits; text other than ASCII as UTF-8), and where the next page starts, if
        there is one.

        The database writes the JSON: a page of 500 tickets is ~6 ms of SQLite's C code, which runs without the
        GIL (PostgreSQL's, in its own process), against ~55 ms of Python building and writing the models, which
        would hold the interpreter that sells. The statements are built once for each set of filters
        (`ticket_page_statements`): built afresh they held the interpreter ~1.5 ms a page."""
        filters, values = ticket_filters(query)
        page, edge = ticket_page_statements(self.engine.dialect.name, filters)
        body = conn.execute(page, values | {"limit": query.limit}).scalar_one()
        # The last row of this page and, if the one after it exists, the cursor to it.
        last, *more = conn.execute(edge, values | {"last": query.limit - 1}).all() or [None]
        cursor = TicketCursor(created=_aware(last.created), id=last.id) if more else None
        return body.encode(), cursor

    def load_tickets(self, conn: Connection, statement, values: dict | None = None) -> list[Ticket]:
        rows = conn.execute(statement, values).all()
        if not rows:
            return []
        events: dict[str, list[TicketEvent]] = {row.id: [] for row in rows}
        ids = list(events)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            query = (
                select(ticket_events)
                .where(ticket_events.c.ticket_id.in_(chunk))
                .order_by(ticket_events.c.ticket_id, ticket_events.c.position)
            )
            for e in conn.execute(query):
                events[e.ticket_id].append(TicketEvent(id=e.event_id, bet=e.bet, odds=_odds_dec(e.odds)))
        settled = [row.id for row in rows if row.status in SETTLED_STATUSES]
        settlements = self._settlements(conn, settled, events) if settled else {}
        return [self._ticket(row, events[row.id], settlements.get(row.id)) for row in rows]

    def _settlements(
        self, conn: Connection, ticket_ids: list[str], events: dict[str, list[TicketEvent]]
    ) -> dict[str, TicketSettlement]:
        """Settled amounts, each pick's result and the counter's payout record of these tickets."""
        rows = []
        for start in range(0, len(ticket_ids), 500):
            chunk = ticket_ids[start : start + 500]
            query = (
                select(ticket_settlements, *[c.label(f"paid_{c.name}") for c in payouts.c])
                .outerjoin(payouts, payouts.c.ticket_id == ticket_settlements.c.ticket_id)
                .where(ticket_settlements.c.ticket_id.in_(chunk))
            )
            rows.extend(conn.execute(query))
        results: dict[str, dict[int, EventResult]] = {}
        for coupon_id in {row.coupon_id for row in rows}:
            query = select(event_results.c.event_id, event_results.c.result).where(
                event_results.c.coupon_id == coupon_id
            )
            results[coupon_id] = {r.event_id: EventResult(r.result) for r in conn.execute(query)}
        return {row.ticket_id: self._settlement(row, events[row.ticket_id], results[row.coupon_id]) for row in rows}

    @staticmethod
    def _settlement(row, picks: list[TicketEvent], results: dict[int, EventResult]) -> TicketSettlement:
        paid = None
        if row.paid_ticket_id is not None:
            paid = PayoutRecord(
                kind=row.paid_kind,
                amount=from_cents(row.paid_amount_cents),
                paid_at=_aware(row.paid_paid_at),
                till=row.paid_till,
                shift_id=row.paid_shift_id,
                follow_up=row.paid_follow_up,
            )
        outcomes = [
            EventOutcome(
                id=p.id,
                result=results[p.id],
                correct=results[p.id] == EventResult.VOID or PICK_LABELS.get(p.bet) == results[p.id].value,
            )
            for p in picks
            if p.id in results
        ]
        return TicketSettlement(
            result=row.result,
            correct=row.correct,
            voids=row.voids,
            prize_tier=row.prize_tier,
            payout=from_cents(row.payout_cents),
            tax=from_cents(row.tax_cents),
            net_payout=from_cents(row.net_payout_cents),
            refund=from_cents(row.refund_cents),
            credited=from_cents(row.credited_cents),
            settled_at=_aware(row.settled_at),
            events=outcomes,
            paid=paid,
        )

    @staticmethod
    def _ticket(row, events: list[TicketEvent], settlement: TicketSettlement | None = None) -> Ticket:
        return Ticket(
            id=row.id,
            code=row.code,
            operator=row.operator,
            coupon_id=row.coupon_id,
            stake=from_cents(row.stake_cents),
            currency=row.currency,
            net_stake=from_cents(row.net_stake_cents),
            excise=from_cents(row.excise_cents),
            total_odds=Decimal(row.total_odds),
            payout=from_cents(row.payout_cents),
            tax=from_cents(row.tax_cents),
            net_payout=from_cents(row.net_payout_cents),
            odds_diff=_odds_dec(row.odds_diff),
            status=row.status,
            result=row.result,
            approved=row.approved,
            source=row.source,
            type=row.type,
            atag=row.atag,
            user_id=row.user_id,
            events=events,
            created=_aware(row.created),
            updated=_aware(row.updated),
            settlement=settlement,
            test=row.test,
        )
