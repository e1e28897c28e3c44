"""Coupon QA: read a coupon file (JSON in the engine's format, or CSV), list every problem, build the coupon.

Never stops at the first problem: each is reported with where it is (coupon field, or row/event and field) and how
serious it is, errors first. Errors block publishing; warnings do not. The same check guards `POST /be/coupons` and
`POST /be/coupons/drafts`.

A coupon file's times without an offset are read in the operator's time zone (a QA tester writes the kickoffs the
till will show); the API's JSON reads them as UTC, its wire format, and the QA page sends every time with its offset.

    python -m ticketing.coupons.check [--json] [--markdown] [--timezone ZONE] FILE...
        exit 0: no errors, 1: errors found, 2: a file could not be read (`ticketing/coupons/report.py`)

CSV layout: a header block of `# key: value` lines for the coupon's own fields (id, name, currency, closes_at,
min_stake, max_stake, fixed_stake, max_payout), then one row per event with the columns
event_id,home,away,competition,kickoff,odds_1,odds_x,odds_2.
"""

import csv
import re
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import msgspec
from pydantic import BaseModel, ValidationError

from ticketing.contract import wire
from ticketing.contract.models import (
    BET_IDS,
    MAX_AMOUNT,
    MAX_ID,
    MAX_ODDS,
    MAX_PICKS,
    PICK_LABELS,
    WHOLE_NUMBER,
    Coupon,
    CouponEvent,
    CouponStatus,
    StakeRules,
    control_character_problem,
)
from ticketing.contract.money import CENT

CSV_COLUMNS = ["event_id", "home", "away", "competition", "kickoff", "odds_1", "odds_x", "odds_2"]
CSV_ODDS = {"odds_1": "101", "odds_x": "102", "odds_2": "103"}
COUPON_FIELDS = ["id", "name", "currency", "closes_at", "min_stake", "max_stake", "fixed_stake", "max_payout"]
OVERROUND_BAND = (Decimal("1.00"), Decimal("1.25"))
"""A 1X2 book's sum of 1/odds: below 1.00 the coupon pays out more than it takes in; above 1.25 no player
would take it. Outside the band is a warning, showing the margin."""
ISO_4217 = {
    "AED",
    "AUD",
    "BRL",
    "BWP",
    "CAD",
    "CHF",
    "CNY",
    "CZK",
    "DKK",
    "EGP",
    "ETB",
    "EUR",
    "GBP",
    "GHS",
    "HKD",
    "INR",
    "JPY",
    "KES",
    "MAD",
    "MWK",
    "MXN",
    "MZN",
    "NGN",
    "NOK",
    "NZD",
    "PLN",
    "RWF",
    "SEK",
    "TZS",
    "UGX",
    "USD",
    "XAF",
    "XOF",
    "ZAR",
    "ZMW",
}
"""The ISO 4217 codes the QA check knows (the ones Betstack's markets trade in, and the majors)."""
EARLIEST, LATEST = datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)
"""Coupon times a terminal can show in any time zone (offsets reach ±14 h): a day inside the calendar's ends."""


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Problem(BaseModel):
    severity: Severity
    where: str
    field: str
    message: str


class CheckReport(BaseModel):
    source: str
    problems: list[Problem]
    coupon: Coupon | None = None
    """Built only when there is no error."""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == Severity.WARNING]

    @property
    def publishable(self) -> bool:
        return self.coupon is not None and not self.errors

    def text(self) -> str:
        lines = [f"{self.source}: {len(self.errors)} error(s), {len(self.warnings)} warning(s)"]
        lines += [f"  {p.severity.value.upper():7} {p.where} [{p.field}]: {p.message}" for p in self.problems]
        return "\n".join(lines)


class CouponFileError(ValueError):
    """The file is not a coupon at all (not JSON/CSV, not an object): nothing else can be checked."""


# ---- reading ---------------------------------------------------------------------------------------------------


def read_coupon_file(name: str, content: bytes) -> tuple[dict[str, Any], list[str]]:
    """The raw coupon as a dict, and a location label per event ("row 3", "event #2")."""
    if name.lower().endswith(".csv"):
        return _read_csv(_utf8_text(content))
    try:
        raw = wire.loads_request(content)
    except wire.InvalidJSON as error:
        raise CouponFileError(f"not valid JSON: {error.reason}") from None
    if not isinstance(raw, dict):
        raise CouponFileError("a coupon file holds one JSON object")
    events = raw.get("events")
    count = len(events) if isinstance(events, list) else 0
    return raw, [f"event #{i}" for i in range(1, count + 1)]


CSV_HEADER_KEYS = ("id", "name", "currency", "closes_at", "max_payout", "min_stake", "max_stake", "fixed_stake")


def _utf8_text(content: bytes) -> str:
    """A CSV file's text, read as UTF-8 (a byte-order mark allowed): another encoding is refused by name, never read
    with replacement characters (a Latin-1 "Atlético" passed the check as "Atl�tico")."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CouponFileError("the file is UTF-16 text: save it as UTF-8")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise CouponFileError(
            f"line {line}: byte 0x{content[error.start]:02X} is not UTF-8 text (Latin-1?): save the file as UTF-8"
        ) from None


def _read_csv(text: str) -> tuple[dict[str, Any], list[str]]:
    if not text.strip():  # not eight "missing" columns: nothing is there at all
        raise CouponFileError("the file is empty")
    header: dict[str, Any] = {}
    header_lines: dict[str, int] = {}
    body: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            key = key.strip().lower()
            if key not in CSV_HEADER_KEYS:  # a misspelt key was dropped, and its value with it
                raise CouponFileError(f"line {number}: '# {key}' is not a coupon field ({', '.join(CSV_HEADER_KEYS)})")
            if key in header_lines:  # the last one won, without a word: which one the file means is not ours to pick
                raise CouponFileError(
                    f"line {number}: '# {key}' is given a second time (first on line {header_lines[key]})"
                )
            header_lines[key] = number
            header[key] = value.strip() or None
        elif line.strip():
            body.append((number, line))
    rows, places = _csv_rows(body)
    raw: dict[str, Any] = {k: header.get(k) for k in ("id", "name", "currency", "closes_at", "max_payout")}
    raw["stake_rules"] = {k: header.get(k) for k in ("min_stake", "max_stake", "fixed_stake")}
    raw["events"] = [
        {
            "id": row["event_id"],
            "home": row["home"],
            "away": row["away"],
            "competition": row["competition"],
            "kickoff": row["kickoff"],
            "odds": {bet: row[column] for column, bet in CSV_ODDS.items() if (row.get(column) or "").strip()},
        }
        for row in rows
    ]
    return raw, places


def _csv_rows(body: list[tuple[int, str]]) -> tuple[list[dict[str, str]], list[str]]:
    """The rows under the column line, each named by the file line it starts on (a quoted value may span lines)."""
    reader = csv.reader(line for _, line in body)
    columns = next(reader, [])
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:  # the last one won, without a word
        raise CouponFileError(f"line {body[0][0]}: column {', '.join(repeated)} given twice")
    missing = [c for c in CSV_COLUMNS if c not in columns]
    if missing:
        raise CouponFileError(f"CSV columns missing: {', '.join(missing)} (expected {','.join(CSV_COLUMNS)})")
    rows, places, consumed = [], [], reader.line_num
    for values in reader:
        number = body[consumed][0]
        consumed = reader.line_num
        if len(values) > len(columns):  # values beyond the header's columns would be dropped
            raise CouponFileError(
                f"line {number}: {len(values) - len(columns)} value(s) beyond the {len(columns)} columns"
            )
        rows.append({column: values[i] if i < len(values) else "" for i, column in enumerate(columns)})
        places.append(f"row {number}")
    return rows, places


# ---- checking --------------------------------------------------------------------------------------------------


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, where: str, field: str, message: str) -> None:
        self.problems.append(Problem(severity=Severity.ERROR, where=where, field=field, message=message))

    def warning(self, where: str, field: str, message: str) -> None:
        self.problems.append(Problem(severity=Severity.WARNING, where=where, field=field, message=message))


def _shown(value: Any) -> str:
    """A value as the file wrote it, not as Python prints it: `500101.0`, `true`, `"abc"` (not `Decimal('500101.0')`,
    `True`, `'abc'`)."""
    try:
        return wire.dumps(value).decode()
    except (TypeError, ValueError, msgspec.EncodeError):
        return str(value)


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _datetime(value: Any, zone: tzinfo) -> datetime:
    """The moment in UTC; a time without an offset is a time in `zone`. A ValueError says what is wrong with it."""
    unreadable = ValueError(f"missing or not an ISO datetime: {_shown(value)}")
    if not isinstance(value, str) or not value.strip():
        raise unreadable
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise unreadable from None
    try:
        moment = (parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed).astimezone(UTC)
    except OverflowError:
        moment = None
    if moment is None or not EARLIEST <= moment <= LATEST:
        raise ValueError(f"{_shown(value)} is at the edge of the calendar: it cannot be shown in every time zone")
    return moment


def local_time(moment: datetime, zone: tzinfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _with_offsets(raw: dict[str, Any], zone: tzinfo) -> dict[str, Any]:
    """The coupon's times made explicit, so that the model (which reads a time without an offset as UTC, the wire
    format) builds the coupon the check read. Only called once every time parsed."""
    events = [event | {"kickoff": _datetime(event["kickoff"], zone)} for event in raw["events"]]
    return raw | {"closes_at": _datetime(raw["closes_at"], zone), "events": events}


def _text(raw: dict, key: str, where: str, out: _Collector) -> None:
    value = raw.get(key)
    if not str(value or "").strip():
        out.error(where, key, "missing")
    elif isinstance(value, str) and (problem := control_character_problem(value)):
        out.error(where, key, problem)


def _amount(raw: dict, key: str, where: str, out: _Collector, required: bool) -> Decimal | None:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            out.error(where, key, "missing")
        return None
    amount = _decimal(value)
    if amount is None:
        out.error(where, key, f"not a number: {_shown(value)}")
    elif amount <= 0:
        out.error(where, key, f"must be above 0, is {amount}")
    elif amount > MAX_AMOUNT:
        out.error(where, key, f"too large: {amount} is above {MAX_AMOUNT}")
    elif amount != amount.quantize(CENT):
        out.error(where, key, f"more than 2 decimals: {amount}")
    else:
        return amount
    return None


def check_coupon_data(
    raw: dict[str, Any],
    event_places: list[str],
    operator_currencies: Iterable[str],
    now: datetime,
    source: str = "coupon",
    operator_max_payout: Decimal | None = None,
    zone: tzinfo = UTC,
) -> CheckReport:
    """Every problem of a raw coupon; `operator_max_payout`, when given, is the most its own cap may be; `zone` is
    where a time without an offset is (UTC on the wire; the operator's zone in a coupon file)."""
    out = _Collector()
    here = "coupon"
    _unknown_fields(raw, Coupon, here, out)
    for key in ("id", "name"):
        _text(raw, key, here, out)
    currency = str(raw.get("currency") or "").strip()
    accepted = set(operator_currencies)
    if not currency:
        out.error(here, "currency", "missing")
    elif len(currency) != 3 or not currency.isalpha() or not currency.isupper() or currency not in ISO_4217:
        out.error(here, "currency", f"{_shown(currency)} is not a 3-letter ISO 4217 code")
    elif accepted and currency not in accepted:
        out.error(here, "currency", f"{currency} is not accepted by the operator ({', '.join(sorted(accepted))})")

    # Publishing puts a coupon on sale: a coupon file saying "draft", "resulted" or "final" would have been stored so
    # (a draft nobody could see or withdraw, a final coupon listed as closed before its deadline).
    if raw.get("status", CouponStatus.OPEN.value) != CouponStatus.OPEN.value:
        out.error(here, "status", f'{_shown(raw.get("status"))}: a coupon is published "open" (or without a status)')
    try:
        closes_at = _datetime(raw.get("closes_at"), zone)
    except ValueError as problem:
        closes_at = None
        out.error(here, "closes_at", str(problem))
    if closes_at is not None and closes_at <= now:
        out.error(here, "closes_at", f"deadline {local_time(closes_at, zone)} is in the past")

    rules = raw.get("stake_rules") if isinstance(raw.get("stake_rules"), dict) else {}
    _unknown_fields(rules, StakeRules, here, out)
    if not isinstance(raw.get("stake_rules"), dict):
        out.error(here, "stake_rules", "missing: min_stake and max_stake are needed")
    min_stake = _amount(rules, "min_stake", here, out, required=True)
    max_stake = _amount(rules, "max_stake", here, out, required=True)
    fixed_stake = _amount(rules, "fixed_stake", here, out, required=False)
    if min_stake is not None and max_stake is not None and min_stake > max_stake:
        out.error(here, "stake_rules", f"min_stake {min_stake} is above max_stake {max_stake}")
    if fixed_stake is not None and min_stake is not None and max_stake is not None:
        if not min_stake <= fixed_stake <= max_stake:
            out.error(here, "fixed_stake", f"fixed stake {fixed_stake} is outside {min_stake} to {max_stake}")
    max_payout = _amount(raw, "max_payout", here, out, required=True)
    if max_payout is not None and min_stake is not None and max_payout < min_stake:
        out.error(here, "max_payout", f"max payout {max_payout} is below the minimum stake {min_stake}")
    if max_payout is not None and operator_max_payout is not None and max_payout > operator_max_payout:
        out.error(here, "max_payout", f"max payout {max_payout} is above the operator's cap {operator_max_payout}")

    events = raw.get("events")
    if events is not None and not isinstance(events, list):
        kind = "an object" if isinstance(events, dict) else "text" if isinstance(events, str) else "a single value"
        out.error(here, "events", f"must be a list of events, is {kind}")
        events = []
    elif not events:
        out.error(here, "events", "the coupon has no events")
        events = []
    elif len(events) > MAX_PICKS:
        out.error(here, "events", f"the coupon has {len(events)} events: at most {MAX_PICKS} can be sold")
    _check_events(events, event_places, closes_at, now, zone, out)
    _check_settlement_rules(raw, len(events), max_payout, out)

    coupon = _model_check(raw, events, event_places, zone, out)
    # Errors first, each severity in the file's order (coupon fields, then events as they come).
    problems = sorted(out.problems, key=lambda problem: problem.severity != Severity.ERROR)
    return CheckReport(source=source, problems=problems, coupon=coupon)


def _model_check(raw: dict, events: list, places: list[str], zone: tzinfo, out: _Collector) -> Coupon | None:
    """The coupon built by the engine's own model, whatever else is wrong: what the model refuses and the checks
    above did not already say is listed too, in the same places and words, so that a file shows every problem at
    once (an id with a space and a name that was a list showed only after the odds were fixed). Built only when
    nothing at all is wrong."""
    try:
        shaped = _with_offsets(raw, zone)
    except (ValueError, TypeError, KeyError, AttributeError):  # a time the checks above already named
        shaped = raw
    said = {_said(p.where, p.field) for p in out.problems if p.severity == Severity.ERROR}
    try:
        coupon = Coupon.model_validate(shaped)
    except ValidationError as invalid:
        for error in invalid.errors():
            where, field = _model_place(error["loc"], events, places)
            if _said(where, field) not in said:
                out.error(where, field, _model_words(error))
        return None
    return None if any(p.severity == Severity.ERROR for p in out.problems) else coupon


def _said(where: str, field: str) -> tuple[str, str]:
    """What a problem is about, to tell the model's from one the checks named already: `odds 2` and `odds.103` of an
    event are both its odds."""
    return where.split(" (event")[0], re.split(r"[ .]", field)[0]


def _model_place(loc: tuple, events: list, places: list[str]) -> tuple[str, str]:
    """A model error's location as the report names it: `coupon` and a field, or an event's place and its field."""
    if len(loc) >= 2 and loc[0] == "events" and isinstance(loc[1], int):
        index = loc[1]
        place = places[index] if index < len(places) else f"event #{index + 1}"
        event = events[index] if index < len(events) else None
        event_id = str(event.get("id", "")).strip() if isinstance(event, dict) else ""
        if event_id.isdigit():
            place = f"{place} (event {int(event_id)})"
        return place, ".".join(map(str, loc[2:])) or "event"
    fields = [str(part) for part in loc if part != "stake_rules"]
    return "coupon", ".".join(fields) or "coupon"


MODEL_WORDS = {
    "string_type": "must be text",
    "string_too_short": "missing",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "decimal_type": "must be a number",
    "decimal_parsing": "must be a number",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "missing": "missing",
}
"""Pydantic's error types in a QA engineer's words; any other keeps pydantic's message."""


def _model_words(error: dict) -> str:
    if error["type"] == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == "^[A-Za-z0-9_-]+$":
        return f"{_shown(error.get('input'))}: letters, digits, - and _ only"
    return MODEL_WORDS.get(error["type"], error["msg"])


def _unknown_fields(raw: dict, model: type[BaseModel], where: str, out: _Collector) -> None:
    """A key the model does not know would be dropped without a word (a misspelt `fixed_stak`, `bonus_prize`)."""
    known = model.model_fields
    for key in raw:
        if key not in known:
            out.error(where, str(key), f"not a field here (the fields are {', '.join(known)})")


def _check_settlement_rules(raw: dict, events: int, max_payout: Decimal | None, out: _Collector) -> None:
    """The void threshold and the bonus prizes: a tier is a number of correct picks below all of them, and a tier
    with more correct picks never pays less than one with fewer."""
    here = "coupon"
    # Checked when the file sets it: the default (3) on a coupon of fewer events voids its round only when every
    # event is void, as any threshold at or above its events does (`round_is_void`).
    max_void = raw.get("max_void_events")
    if "max_void_events" in raw and (
        isinstance(max_void, bool) or not isinstance(max_void, int) or not 0 <= max_void <= max(events, 0)
    ):
        out.error(
            here, "max_void_events", f"must be a whole number from 0 to the {events} events, is {_shown(max_void)}"
        )
    prizes = raw.get("bonus_prizes") or {}
    if not isinstance(prizes, dict):
        out.error(here, "bonus_prizes", 'must map a number of correct picks to a prize: {"16": 1000}')
        return
    tiers: dict[int, Decimal] = {}
    for key in prizes:
        if not WHOLE_NUMBER.fullmatch(str(key)):
            out.error(here, f"bonus_prizes.{key}", 'not a number of correct picks written plainly, like "12"')
            continue
        correct = int(key)
        if not 1 <= correct < events:
            out.error(here, f"bonus_prizes.{key}", f"a tier must be 1 to {events - 1} correct picks (all {events} win)")
            continue
        field = f"bonus_prizes.{key}"
        amount = _amount({field: prizes[key]}, field, here, out, required=True)
        if amount is None:
            continue
        if max_payout is not None and amount > max_payout:
            out.error(here, f"bonus_prizes.{key}", f"prize {amount} is above the coupon's max payout {max_payout}")
        tiers[correct] = amount
    ordered = sorted(tiers.items())
    for (fewer, low), (more, high) in zip(ordered, ordered[1:], strict=False):
        if high < low:
            out.error(here, f"bonus_prizes.{more}", f"{more} correct pays {high}, less than {fewer} correct ({low})")


def _check_events(
    events: list, places: list[str], closes_at: datetime | None, now: datetime, zone: tzinfo, out: _Collector
) -> None:
    ids: dict[int, list[str]] = {}
    fixtures = Counter()
    kickoffs = []
    for index, event in enumerate(events):
        place = places[index] if index < len(places) else f"event #{index + 1}"
        if not isinstance(event, dict):
            out.error(place, "event", "not an object")
            continue
        _unknown_fields(event, CouponEvent, place, out)
        event_id = event.get("id")
        parsed_id = None
        if event_id is None or str(event_id).strip() == "":
            out.error(place, "id", "missing event id")
        else:
            try:
                parsed_id = int(str(event_id).strip())
            except ValueError:
                out.error(place, "id", f"not a whole number: {_shown(event_id)}")
            if parsed_id is not None and not 1 <= parsed_id <= MAX_ID:
                out.error(place, "id", f"event id {parsed_id} is outside 1 to {MAX_ID}")
                parsed_id = None
        if parsed_id is not None:
            ids.setdefault(parsed_id, []).append(place)
            place = f"{place} (event {parsed_id})"
        for key in ("home", "away", "competition"):
            _text(event, key, place, out)
        fixture = (str(event.get("home") or "").strip().lower(), str(event.get("away") or "").strip().lower())
        if all(fixture) and fixture[0] == fixture[1]:
            out.error(place, "home/away", f"{event.get('home')} cannot play itself")
        if all(fixture):
            fixtures[fixture] += 1
            if fixtures[fixture] == 2:
                out.error(place, "home/away", f"duplicate fixture {event.get('home')} v {event.get('away')}")
        try:
            kickoff = _datetime(event.get("kickoff"), zone)
        except ValueError as problem:
            out.error(place, "kickoff", str(problem))
        else:
            kickoffs.append(kickoff)
            if kickoff <= now:
                out.error(place, "kickoff", f"kickoff {local_time(kickoff, zone)} is in the past")
            elif closes_at is not None and kickoff < closes_at:
                out.error(
                    place,
                    "kickoff",
                    f"kicks off {local_time(kickoff, zone)}, before the coupon's deadline"
                    f" {local_time(closes_at, zone)}: the deadline must be at or before the earliest kickoff",
                )
        _check_odds(event.get("odds"), place, out)
    for event_id, seen_at in ids.items():
        if len(seen_at) > 1:
            out.error(", ".join(seen_at), "id", f"duplicate event id {event_id}")


def _check_odds(odds: Any, place: str, out: _Collector) -> None:
    if not isinstance(odds, dict):
        out.error(place, "odds", "missing: the 1X2 outcomes 101, 102, 103 need odds")
        return
    known = {str(bet) for bet in BET_IDS}
    unknown = sorted(str(k) for k in odds if str(k) not in known)
    if unknown:
        out.error(place, "odds", f"unknown bet id(s) {', '.join(unknown)}: the 1X2 market has 101, 102, 103")
    present = {str(k): v for k, v in odds.items() if str(k) in known}
    missing = [PICK_LABELS[b] for b in BET_IDS if str(b) not in present]
    if missing:
        out.error(place, "odds", f"{3 - len(missing)} of the three 1X2 outcomes: no odds for {', '.join(missing)}")
    valid = []
    for bet in BET_IDS:
        if str(bet) not in present:
            continue
        label = f"odds {PICK_LABELS[bet]}"
        value = _decimal(present[str(bet)])
        if value is None:
            out.error(place, label, f"not a number: {_shown(present[str(bet)])}")
        elif value <= 1:
            out.error(place, label, f"{value} is not above 1.00")
        elif value > MAX_ODDS:
            out.error(place, label, f"{value} is above the maximum {MAX_ODDS}")
        elif value != value.quantize(CENT):
            out.error(place, label, f"{value} has more than 2 decimals")
        else:
            valid.append(value)
    if len(valid) == 3:
        overround = sum(1 / o for o in valid)
        low, high = OVERROUND_BAND
        if not low <= overround <= high:
            out.warning(
                place,
                "odds",
                f"margin {(overround - 1) * 100:+.1f}% (sum of 1/odds {overround:.3f}) is "
                f"outside the sane band {(low - 1) * 100:.0f}% to {(high - 1) * 100:.0f}%",
            )


def event_margins(coupon: Coupon) -> list[dict[str, Any]]:
    """Preview rows: odds, implied probabilities (1/odds) and the margin per event."""
    rows = []
    for number, event in enumerate(coupon.events, start=1):
        implied = {bet: 1 / event.odds[bet] for bet in BET_IDS if bet in event.odds}
        row = {
            "#": number,
            "event": event.id,
            "fixture": event.fixture,
            "competition": event.competition,
            "kickoff": event.kickoff,
        }
        for bet in BET_IDS:
            row[f"odds {PICK_LABELS[bet]}"] = event.odds.get(bet)
            row[f"p({PICK_LABELS[bet]})"] = implied.get(bet)
        row["margin"] = sum(implied.values()) - 1 if len(implied) == 3 else None
        rows.append(row)
    return rows


def check_file(
    name: str,
    content: bytes,
    operator_currencies: Iterable[str],
    now: datetime,
    operator_max_payout: Decimal | None = None,
    zone: tzinfo = UTC,
) -> CheckReport:
    """A coupon file: its times without an offset are in `zone` (the operator's)."""
    try:
        raw, places = read_coupon_file(name, content)
    except CouponFileError as error:
        return CheckReport(
            source=name, problems=[Problem(severity=Severity.ERROR, where="file", field="format", message=str(error))]
        )
    return check_coupon_data(
        raw, places, operator_currencies, now, source=name, operator_max_payout=operator_max_payout, zone=zone
    )


if __name__ == "__main__":
    # The command line prints the whole QA report (`ticketing/coupons/report.py`), which is built on this module.
    from ticketing.coupons.report import main

    sys.exit(main())
