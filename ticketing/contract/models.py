"""The data of the ticket engine as pydantic models: the Betstack jackpot request and response, coupons, queries.

JSON conventions (see README "Contract decisions"): amounts and odds are numbers with two decimals, datetimes
are UTC written `YYYY-MM-DDTHH:MM:SS` like the spec's sample, coupon event odds are a map bet id -> odds.
"""

import base64
import re
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    WithJsonSchema,
    model_validator,
)

from ticketing.contract.money import CENT

MAX_PICKS = 64
"""The one limit on a coupon's size: publishing refuses a coupon with more events, and a sale refuses a longer pick
list before any work is done."""
DEFAULT_MAX_PAYOUT = Decimal("100000000.00")
"""An operator's overall cap on a ticket's payout, unless set otherwise (`TICKETING_MAX_PAYOUT` for the demo's)."""

BET_HOME, BET_DRAW, BET_AWAY = 101, 102, 103
BET_IDS = (BET_HOME, BET_DRAW, BET_AWAY)
PICK_LABELS = {BET_HOME: "1", BET_DRAW: "X", BET_AWAY: "2"}
BETS_BY_LABEL = {label: bet for bet, label in PICK_LABELS.items()}
DEFAULT_TIMEZONE = "Africa/Nairobi"
"""An operator's zone unless set otherwise (the terminal's `TICKETING_TIMEZONE` has the same default)."""


def _as_utc(value: datetime) -> datetime:
    """Naive datetimes are UTC (the wire format carries no offset); aware ones are converted."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        # `9999-12-31T23:59:59-14:00` is a valid ISO datetime whose UTC moment is past the calendar's end.
        raise ValueError("outside the calendar (years 1 to 9999) once converted to UTC") from None


def format_utc(value: datetime) -> str:
    global _last_formatted
    # Compared in UTC: equality ignores `fold`, so two local times an hour apart (the hour a clock goes back) would
    # compare equal, and naive times are read in the machine's zone.
    utc = value if value.tzinfo is UTC else value.astimezone(UTC)
    # A sale's answer writes its creation and update times, and a batch's tickets all share one: formatted once.
    last_value, last_text = _last_formatted
    if utc == last_value:
        return last_text
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    _last_formatted = (utc, text)
    return text


_last_formatted: tuple[datetime | None, str] = (None, "")


UtcDatetime = Annotated[
    datetime,
    AfterValidator(_as_utc),
    PlainSerializer(format_utc, return_type=str, when_used="always"),
]


def _two_decimals(value: Decimal) -> Decimal:
    """Accepted values are exact to the cent already; this only makes `25` read `25.00` everywhere."""
    return value.quantize(CENT)


Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2),
    AfterValidator(_two_decimals),
    WithJsonSchema({"type": "number", "minimum": 0, "multipleOf": 0.01}),
]
SignedMoney = Annotated[
    Decimal,
    Field(max_digits=16, decimal_places=2),
    AfterValidator(_two_decimals),
    WithJsonSchema({"type": "number", "multipleOf": 0.01}),
]
"""A cash figure that may be negative (a till's expected cash, a difference, cash out of the till)."""
MAX_AMOUNT = Decimal("999999999999.99")
"""The largest amount `Money` takes (14 digits), and so the most any cap, stake or payout can be."""
MAX_ODDS = Decimal("10000")
Odds = Annotated[
    Decimal,
    Field(gt=1, le=MAX_ODDS, max_digits=7, decimal_places=2),
    AfterValidator(_two_decimals),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 1, "maximum": int(MAX_ODDS), "multipleOf": 0.01}),
]
OddsTolerance = Annotated[
    Decimal,
    Field(ge=0, le=10000, max_digits=7, decimal_places=2),
    AfterValidator(_two_decimals),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 10000, "multipleOf": 0.01}),
]
CouponId = Annotated[
    str,
    BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v),
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": r"^[A-Za-z0-9_-]+$"}, {"type": "integer"}]}),
]
MAX_ID = 2**53 - 1
"""Event and bet ids: whole numbers a database BIGINT and a JavaScript client both hold exactly."""
EventId = Annotated[int, Field(ge=1, le=MAX_ID)]
BetId = Annotated[int, Field(ge=1, le=MAX_ID)]
SentId = Annotated[int, Strict(), Field(ge=1, le=MAX_ID)]
"""An event or bet id in a sale's body: a JSON integer, not `true` (read as bet 1: a 400 "bet 1 is not offered" for
what is a malformed body) nor a string."""
WHOLE_NUMBER = re.compile(r"0|[1-9][0-9]*")


def _keys_written_plainly(value: Any) -> Any:
    """A JSON object keyed by whole numbers (odds by bet id, prizes by correct picks, results by event id): each key
    written plainly. pydantic would read `" 101"`, `"+101"` and `"0101"` as 101 too, and the last of two keys naming
    one bet silently won (`{"101": 2.50, " 101": 9.99}` set 9.99) where a duplicate key is refused."""
    if isinstance(value, dict):
        for key in value:
            if isinstance(key, str) and not WHOLE_NUMBER.fullmatch(key):
                raise ValueError(f'key {key!r} is not a whole number written plainly, like "101"')
    return value


KeysWrittenPlainly = BeforeValidator(_keys_written_plainly)
CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""C0 and C1 controls (TAB, CR, LF among them), DEL, and Unicode's line and paragraph separators."""


def control_character_problem(text: str) -> str | None:
    found = CONTROL_CHARACTER.search(text)
    if found is None:
        return None
    return f"control character U+{ord(found.group()):04X} at position {found.start()} is not allowed"


def _printable(text: str) -> str:
    if problem := control_character_problem(text):
        raise ValueError(problem)
    return text


PrintableText = Annotated[
    str,
    AfterValidator(_printable),
    Field(json_schema_extra={"pattern": "^[^\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]*$"}),
]
"""Names, tags and tokens: any text but control characters. A line break or an escape sequence in an atag or a
team name would forge lines in logs, CSV exports and receipts; PostgreSQL refuses a NUL outright."""
REFERENCE_PATTERN = r"^[A-Za-z0-9_.-]+$"
Reference = Annotated[str, Field(min_length=1, max_length=64, pattern=REFERENCE_PATTERN)]
"""Operator names, user ids, coupon ids in URLs: letters, digits, `_`, `.` and `-`."""
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 three-letter code")]


class EventStatus(StrEnum):
    AVAILABLE = "available"
    SUSPENDED = "suspended"
    STARTED = "started"
    CANCELLED = "cancelled"


class CouponStatus(StrEnum):
    DRAFT = "draft"
    """Uploaded for QA, not on sale: only an admin sees it (`ticketing/coupons`), and only its sandbox sells on it."""
    OPEN = "open"
    CLOSED = "closed"
    RESULTED = "resulted"
    """Every event has its result and the tickets are settled; results can still be corrected."""
    CANCELLED = "cancelled"
    """Cancelled by an admin: every ticket void, stakes refunded."""
    FINAL = "final"
    """Resulted and past the operator's correction window: no more corrections."""


class EventResult(StrEnum):
    HOME = "1"
    DRAW = "X"
    AWAY = "2"
    VOID = "void"
    """Abandoned, postponed past the coupon's wait, or cancelled: counts as correct at odds 1.00."""


class TicketStatus(StrEnum):
    NEW = "new"
    CANCELLED = "cancelled"
    RESERVED = "reserved"
    OPEN = "open"
    CALCULATING = "calculating"
    RESULTED = "resulted"
    CLOSED = "closed"


class TicketResult(StrEnum):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"
    VOID = "void"


class TicketSource(StrEnum):
    DESKTOP = "desktop"
    MOBILE = "mobile"
    ANDROID = "android"
    IPHONE = "iphone"
    USSD = "ussd"
    SMS = "sms"
    TELEGRAM = "telegram"
    RETAIL = "retail"


class TicketType(StrEnum):
    JACKPOT = "jackpot"
    QUICKTIP = "quicktip"
    SMARTBET = "smartbet"
    QUICKBET = "quickbet"
    SUPERBET = "superbet"


Model = TypeVar("Model", bound=BaseModel)


def trusted(cls: type[Model], **values: Any) -> Model:
    """A model made of values that are already valid: what `model_construct` does, in a fraction of its time (a
    sale builds a ticket and one of these a pick). Fields left out take their plain defaults. The fields are kept in
    the model's order whatever order they are given in, as `model_construct` keeps them: a model is written out in
    that order (a ticket's answer, a request's fingerprint)."""
    shape = _SHAPES.get(cls)
    if shape is None:
        defaults = {
            name: field.default
            for name, field in cls.model_fields.items()
            if not field.is_required() and field.default_factory is None
        }
        shape = _SHAPES[cls] = (tuple(cls.model_fields), defaults)
    names, defaults = shape
    fields = values
    if tuple(values) != names:
        unknown = values.keys() - names
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
        fields = {
            name: values[name] if name in values else defaults[name]
            for name in names
            if name in values or name in defaults
        }
    return _made_of(cls, fields, set(values))


def _made_of(cls: type[Model], fields: dict[str, Any], fields_set: set[str]) -> Model:
    """The model holding `fields` (every one valid, in the model's order) as pydantic's own construction leaves it."""
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", fields)
    object.__setattr__(model, "__pydantic_fields_set__", fields_set)
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


_SHAPES: dict[type, tuple[tuple[str, ...], dict[str, Any]]] = {}


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


# ---- coupons -------------------------------------------------------------------------------------------------


class StakeRules(BaseModel):
    min_stake: Money
    max_stake: Money
    fixed_stake: Money | None = Field(default=None, description="When set, the only stake the coupon takes")

    def allows(self, stake: Decimal) -> bool:
        if self.fixed_stake is not None:
            return stake == self.fixed_stake
        return self.min_stake <= stake <= self.max_stake


class CouponEvent(BaseModel):
    # Frozen, as `Coupon`: a sale's checks are worked out once a coupon model (`selling.rules.coupon_on_sale`), so an
    # event changed in place would still be sold at its old odds and status. A change is a new model (`model_copy`).
    model_config = ConfigDict(frozen=True)

    id: EventId
    home: Annotated[PrintableText, Field(min_length=1, max_length=120)]
    away: Annotated[PrintableText, Field(min_length=1, max_length=120)]
    competition: Annotated[PrintableText, Field(min_length=1, max_length=120)]
    kickoff: UtcDatetime
    status: EventStatus = EventStatus.AVAILABLE
    odds: Annotated[dict[BetId, Odds], KeysWrittenPlainly] = Field(
        description='Bet id -> odds: {"101": 2.10, "102": 3.25, "103": 3.40}'
    )

    @property
    def fixture(self) -> str:
        return f"{self.home} v {self.away}"


class Coupon(BaseModel):
    # Frozen, as `CouponEvent`: a sale's checks of its events are worked out once a model and kept by its identity.
    model_config = ConfigDict(frozen=True)

    id: CouponId
    name: Annotated[PrintableText, Field(min_length=1, max_length=200)]
    currency: CurrencyCode
    status: CouponStatus = CouponStatus.OPEN
    closes_at: UtcDatetime
    stake_rules: StakeRules
    max_payout: Money | None = Field(
        default=None, description="Required when publishing (the coupon check); the operator's cap applies too"
    )
    max_void_events: int = Field(default=3, ge=0, le=MAX_PICKS, description="More void events void the round")
    bonus_prizes: Annotated[dict[int, Money], KeysWrittenPlainly] = Field(
        default_factory=dict, description='Fixed prizes by number of correct picks below all: {"16": 150000.00}'
    )
    events: Annotated[list[CouponEvent], Field(max_length=MAX_PICKS)]

    def is_open_at(self, now: datetime) -> bool:
        return self.status == CouponStatus.OPEN and now < self.closes_at

    def event(self, event_id: int) -> CouponEvent | None:
        return next((e for e in self.events if e.id == event_id), None)


class EventUpdate(BaseModel):
    """Body of `PUT /be/coupons/{coupon_id}/events/{event_id}`: either part may be left out."""

    model_config = ConfigDict(extra="forbid")

    status: EventStatus | None = None
    odds: Annotated[dict[BetId, Odds] | None, KeysWrittenPlainly] = None

    @model_validator(mode="after")
    def _known_bets(self) -> "EventUpdate":
        unknown = sorted(set(self.odds or {}) - set(BET_IDS))
        if unknown:
            raise ValueError(f"unknown bet ids {unknown}: the 1X2 market has {list(BET_IDS)}")
        return self


class OperatorProfile(BaseModel):
    """What a terminal may know of an operator: its currency and taxes, never its secret."""

    name: str
    currency: CurrencyCode
    excise_rate: Annotated[Decimal, WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1})]
    withholding_rate: Annotated[Decimal, WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1})]
    max_payout: Annotated[Money, Field(description="The operator's cap on any ticket's payout")]
    cancel_window_minutes: int = Field(default=10, description="A till may cancel a ticket this long after the sale")
    timezone: str = Field(
        default=DEFAULT_TIMEZONE, description="IANA zone: coupon files' times without an offset are read in it"
    )


# ---- tickets -------------------------------------------------------------------------------------------------


SERVER_ASSIGNED_FIELDS = frozenset(
    {"id", "code", "tax", "payout", "status", "result", "approved", "user_id", "created", "updated"}
)
"""Fields the contract lists under the request but the server assigns: accepted in a request and ignored. Any other
key outside the contract is refused, not dropped: Betstack's signature removes spaces, so a dropped `"at ag"` would
be signed like `"atag"`, and a misspelt field would be silently lost."""


class PickedEvent(BaseModel):
    """One pick of the `events` request shape: the event, the bet, and the odds the player saw."""

    model_config = ConfigDict(extra="forbid")

    id: SentId
    bet: SentId
    odds: Odds


class TicketRequest(BaseModel):
    """`POST /be/tickets` body. Server-assigned fields the spec also lists (id, code, payout...) are ignored; any
    other unknown key (a key with a space in it among them) is a 422."""

    model_config = ConfigDict(extra="forbid")

    operator: Reference
    stake: Annotated[Money, Field(gt=0)]
    currency: CurrencyCode
    source: Annotated[TicketSource, BeforeValidator(_lower)]
    atag: Annotated[PrintableText, Field(max_length=128)] | None = None
    type: Annotated[TicketType, BeforeValidator(_lower)]
    token: Annotated[PrintableText, Field(min_length=1, max_length=256)]
    odds_diff: OddsTolerance = Decimal("0")
    coupon_id: CouponId
    bets: list[SentId] | None = Field(default=None, min_length=1, max_length=MAX_PICKS)
    events: list[PickedEvent] | None = Field(default=None, min_length=1, max_length=MAX_PICKS)

    @model_validator(mode="before")
    @classmethod
    def _ignore_server_assigned(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if key not in SERVER_ASSIGNED_FIELDS}
        return data

    @model_validator(mode="after")
    def _one_pick_shape(self) -> "TicketRequest":
        if (self.bets is None) == (self.events is None):
            raise ValueError("send exactly one of `bets` (positional bet ids) or `events` ([{id, bet, odds}])")
        return self


class TicketEvent(BaseModel):
    # Frozen: a sale's picks are made once a coupon model and shared by the tickets sold on it (`rules.coupon_on_sale`).
    # Not a docstring, which would be the public schema's description.
    model_config = ConfigDict(frozen=True)

    id: EventId
    bet: BetId
    odds: Odds

    @property
    def pick(self) -> str:
        return PICK_LABELS.get(self.bet, str(self.bet))


def ticket_event(event_id: int, bet: int, odds: Decimal) -> TicketEvent:
    """`trusted(TicketEvent, id=..., bet=..., odds=...)` without its look-up of the model's fields and their order:
    a sale makes one a pick."""
    return _made_of(TicketEvent, {"id": event_id, "bet": bet, "odds": odds}, {"id", "bet", "odds"})


class EventOutcome(BaseModel):
    """One pick of a settled ticket: its event's result and whether the pick was correct (a void counts)."""

    id: EventId
    result: EventResult
    correct: bool


class PayoutRecord(BaseModel):
    """Cash paid at the counter for a ticket: once, by one till, in one shift."""

    kind: str = Field(description="`payout` (a winner) or `refund` (a void or cancelled ticket)")
    amount: Money
    paid_at: UtcDatetime
    till: str
    shift_id: int
    follow_up: str | None = Field(default=None, description="`paid before correction` when a correction changed it")


class TicketSettlement(BaseModel):
    """What a resulted (or cancelled) ticket is worth. The ticket's own payout, tax and net payout stay the
    figures it was sold with (its receipt); these are the settled ones."""

    result: TicketResult
    correct: int
    voids: int
    prize_tier: int | None = None
    payout: Money
    tax: Money
    net_payout: Money
    refund: Money
    credited: Money = Field(description="Credited to the player's account (0 for a shop's ticket, paid in cash)")
    settled_at: UtcDatetime
    events: list[EventOutcome] = Field(default_factory=list)
    paid: PayoutRecord | None = None


class Ticket(BaseModel):
    """A sold ticket: the spec's response fields plus the pricing breakdown. The token is never included."""

    id: str = Field(pattern=r"^[0-9a-f]{24}$")
    code: str
    operator: str
    coupon_id: str
    stake: Money
    currency: str
    net_stake: Money
    excise: Money
    total_odds: Annotated[
        Decimal,
        Field(description="Product of the odds, rounded half-up to 2 decimals for display"),
        WithJsonSchema({"type": "number"}),
    ]
    payout: Money
    tax: Money
    net_payout: Money
    odds_diff: OddsTolerance
    status: TicketStatus
    result: TicketResult
    approved: bool
    source: TicketSource
    type: TicketType
    atag: str | None
    user_id: str
    events: list[TicketEvent]
    created: UtcDatetime
    updated: UtcDatetime
    settlement: TicketSettlement | None = None
    test: bool = Field(
        default=False,
        exclude_if=lambda test: not test,
        description="A coupon sandbox's test ticket: not valid, moves no money (written only when true)",
    )


MAX_PAGE_SIZE = 500
"""The most tickets `GET /be/tickets` answers at once; the client follows the cursor for more."""


class TicketCursor(BaseModel):
    """Where a page of tickets ended (newest first): the last ticket's creation time and id. On the wire it is an
    opaque token (`X-Next-Cursor`); anything else sent back as one is refused."""

    created: UtcDatetime
    id: str = Field(pattern=r"^[0-9a-f]{24}$")

    def encode(self) -> str:
        text = f"{self.created.isoformat()}|{self.id}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> "TicketCursor":
        """Raises ValueError for anything `encode` did not make."""
        try:
            created, ticket_id = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split("|")
            return cls(created=datetime.fromisoformat(created), id=ticket_id)
        except ValueError:  # bad base64, not UTF-8, no "|", a bad date or id
            raise ValueError("not a cursor this server gave") from None


class TicketQuery(BaseModel):
    """Filters of `GET /be/tickets` and `list_tickets`; `after` continues from where a page ended."""

    operator: str | None = None
    user_id: str | None = None
    status: TicketStatus | None = None
    coupon_id: str | None = None
    created_from: UtcDatetime | None = None
    created_to: UtcDatetime | None = None
    skip_types: list[TicketType] = Field(default_factory=list)
    limit: int = Field(default=10, ge=1, le=10000)
    after: TicketCursor | None = None


# ---- after the sale: results, payouts, shifts ------------------------------------------------------------------


class ResultEntry(BaseModel):
    """Body of `PUT /be/coupons/{coupon_id}/events/{event_id}/result`."""

    model_config = ConfigDict(extra="forbid")

    result: EventResult


class SettlementSummary(BaseModel):
    """A coupon's settlement in figures: what the admin previews and confirms, and what finance reconciles."""

    coupon_id: str
    status: CouponStatus
    results_known: int
    events: int
    results: dict[int, EventResult]
    tickets: int
    winners: int
    bonus_winners: dict[int, int] = Field(description="Number of tickets won per bonus tier (correct picks)")
    losers: int
    voided: int
    total_payout: Money
    total_tax: Money
    total_net_payout: Money
    total_refund: Money
    paid_before_correction: list[str] = Field(default_factory=list, description="Codes of tickets to follow up")


class PayoutSlip(BaseModel):
    """The answer of a payout at the counter: what to hand over, and the record of it."""

    ticket_id: str
    code: str
    result: TicketResult
    prize_tier: int | None
    amount: Money
    currency: str
    record: PayoutRecord


class ShiftOpening(BaseModel):
    model_config = ConfigDict(extra="forbid")

    float: Annotated[Money, Field(alias="float")]


class ShiftClosing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    counted: Money


class CashAddition(BaseModel):
    """Cash put into a till's drawer during its shift (from the shop's safe), to pay what the drawer cannot."""

    model_config = ConfigDict(extra="forbid")

    amount: Annotated[Money, Field(gt=0)]


class CashOperation(BaseModel):
    kind: str = Field(
        description="`stake` or `cash_in` (cash into the drawer: a sale, cash added from the safe), `payout` or"
        " `refund` (cash out)"
    )
    ticket_id: str | None
    amount: SignedMoney = Field(description="Signed: cash into the till is positive")
    at: UtcDatetime


class Shift(BaseModel):
    """A cashier's shift on a till: expected cash = float + stakes + cash added - payouts - refunds."""

    id: int
    operator: str
    till: str
    opened_at: UtcDatetime
    closed_at: UtcDatetime | None
    float: Money
    stakes: Money
    stakes_count: int
    payouts: Money
    payouts_count: int
    refunds: Money
    refunds_count: int
    cash_added: Money = Field(default=Decimal("0.00"), description="cash put into the drawer from the safe")
    cash_added_count: int = 0
    expected: SignedMoney = Field(
        description="float + stakes + cash added - payouts - refunds (negative only in a shift from before a payout"
        " larger than the drawer was refused)"
    )
    counted: Money | None
    difference: SignedMoney | None = Field(description="counted - expected: negative when cash is missing")
    operations: list[CashOperation] = Field(default_factory=list)
