"""Coupon QA: read a coupon file (JSON in the engine's format, or CSV), list every problem, build the coupon.

Never stops at the first problem: each is reported with where it is (coupon field, or row/event and field) and how
serious it is. Errors block publishing; warnings do not. The same check guards `POST /be/coupons`.

    python -m ticketing.coupon_check FILE...      exit 0: no errors, 1: errors found, 2: a file could not be read

CSV layout: a header block of `# key: value` lines for the coupon's own fields (id, name, currency, closes_at,
min_stake, max_stake, fixed_stake, max_payout), then one row per event with the columns
event_id,home,away,competition,kickoff,odds_1,odds_x,odds_2.
"""

import argparse
import csv
import io
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ticketing import wire
from ticketing.models import BET_IDS, MAX_ID, PICK_LABELS, Coupon
from ticketing.money import CENT

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
    text = content.decode("utf-8-sig", errors="replace")
    if name.lower().endswith(".csv"):
        return _read_csv(text)
    try:
        raw = wire.loads(text)
    except ValueError as error:
        raise CouponFileError(f"not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise CouponFileError("a coupon file holds one JSON object")
    events = raw.get("events")
    count = len(events) if isinstance(events, list) else 0
    return raw, [f"event #{i}" for i in range(1, count + 1)]


def _read_csv(text: str) -> tuple[dict[str, Any], list[str]]:
    header: dict[str, Any] = {}
    body: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            header[key.strip().lower()] = value.strip() or None
        elif line.strip():
            body.append((number, line))
    rows = list(csv.DictReader(io.StringIO("\n".join(line for _, line in body))))
    missing = [c for c in CSV_COLUMNS if c not in (rows[0].keys() if rows else CSV_COLUMNS)]
    if missing:
        raise CouponFileError(f"CSV columns missing: {', '.join(missing)} (expected {','.join(CSV_COLUMNS)})")
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
    return raw, [f"row {number}" for number, _ in body[1:]]


# ---- checking --------------------------------------------------------------------------------------------------


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, where: str, field: str, message: str) -> None:
        self.problems.append(Problem(severity=Severity.ERROR, where=where, field=field, message=message))

    def warning(self, where: str, field: str, message: str) -> None:
        self.problems.append(Problem(severity=Severity.WARNING, where=where, field=field, message=message))


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _amount(raw: dict, key: str, where: str, out: _Collector, required: bool) -> Decimal | None:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            out.error(where, key, "missing")
        return None
    amount = _decimal(value)
    if amount is None:
        out.error(where, key, f"not a number: {value!r}")
    elif amount <= 0:
        out.error(where, key, f"must be above 0, is {amount}")
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
) -> CheckReport:
    out = _Collector()
    here = "coupon"
    for key in ("id", "name"):
        if not str(raw.get(key) or "").strip():
            out.error(here, key, "missing")
    currency = str(raw.get("currency") or "").strip()
    accepted = set(operator_currencies)
    if not currency:
        out.error(here, "currency", "missing")
    elif len(currency) != 3 or not currency.isalpha() or not currency.isupper() or currency not in ISO_4217:
        out.error(here, "currency", f"{currency!r} is not a 3-letter ISO 4217 code")
    elif accepted and currency not in accepted:
        out.error(here, "currency", f"{currency} is not accepted by the operator ({', '.join(sorted(accepted))})")

    closes_at = _datetime(raw.get("closes_at"))
    if closes_at is None:
        out.error(here, "closes_at", f"missing or not an ISO datetime: {raw.get('closes_at')!r}")
    elif closes_at <= now:
        out.error(here, "closes_at", f"deadline {closes_at:%Y-%m-%d %H:%M} UTC is in the past")

    rules = raw.get("stake_rules") if isinstance(raw.get("stake_rules"), dict) else {}
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
    max_payout = _amount(raw, "max_payout", here, out, required=False)
    if max_payout is not None and min_stake is not None and max_payout < min_stake:
        out.error(here, "max_payout", f"max payout {max_payout} is below the minimum stake {min_stake}")

    events = raw.get("events")
    if not isinstance(events, list) or not events:
        out.error(here, "events", "the coupon has no events")
        events = []
    _check_events(events, event_places, closes_at, now, out)

    coupon = None
    if not [p for p in out.problems if p.severity == Severity.ERROR]:
        try:
            coupon = Coupon.model_validate(raw)
        except ValidationError as invalid:
            for error in invalid.errors():
                out.error(here, ".".join(map(str, error["loc"])), error["msg"])
    return CheckReport(source=source, problems=out.problems, coupon=coupon)


def _check_events(events: list, places: list[str], closes_at: datetime | None, now: datetime, out: _Collector) -> None:
    ids: dict[int, list[str]] = {}
    fixtures = Counter()
    kickoffs = []
    for index, event in enumerate(events):
        place = places[index] if index < len(places) else f"event #{index + 1}"
        if not isinstance(event, dict):
            out.error(place, "event", "not an object")
            continue
        event_id = event.get("id")
        parsed_id = None
        if event_id is None or str(event_id).strip() == "":
            out.error(place, "id", "missing event id")
        else:
            try:
                parsed_id = int(str(event_id).strip())
            except ValueError:
                out.error(place, "id", f"not a whole number: {event_id!r}")
            if parsed_id is not None and not 1 <= parsed_id <= MAX_ID:
                out.error(place, "id", f"event id {parsed_id} is outside 1 to {MAX_ID}")
                parsed_id = None
        if parsed_id is not None:
            ids.setdefault(parsed_id, []).append(place)
            place = f"{place} (event {parsed_id})"
        for key in ("home", "away", "competition"):
            if not str(event.get(key) or "").strip():
                out.error(place, key, "missing")
        fixture = (str(event.get("home") or "").strip().lower(), str(event.get("away") or "").strip().lower())
        if all(fixture) and fixture[0] == fixture[1]:
            out.error(place, "home/away", f"{event.get('home')} cannot play itself")
        if all(fixture):
            fixtures[fixture] += 1
            if fixtures[fixture] == 2:
                out.error(place, "home/away", f"duplicate fixture {event.get('home')} v {event.get('away')}")
        kickoff = _datetime(event.get("kickoff"))
        if kickoff is None:
            out.error(place, "kickoff", f"missing or not an ISO datetime: {event.get('kickoff')!r}")
        else:
            kickoffs.append(kickoff)
            if kickoff <= now:
                out.error(place, "kickoff", f"kickoff {kickoff:%Y-%m-%d %H:%M} UTC is in the past")
            elif closes_at is not None and kickoff < closes_at:
                out.error(
                    place,
                    "kickoff",
                    f"kicks off {kickoff:%Y-%m-%d %H:%M} UTC, before the coupon's deadline"
                    f" {closes_at:%Y-%m-%d %H:%M} UTC: the deadline must be at or before the earliest kickoff",
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
            out.error(place, label, f"not a number: {present[str(bet)]!r}")
        elif value <= 1:
            out.error(place, label, f"{value} is not above 1.00")
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


def check_file(name: str, content: bytes, operator_currencies: Iterable[str], now: datetime) -> CheckReport:
    try:
        raw, places = read_coupon_file(name, content)
    except CouponFileError as error:
        return CheckReport(
            source=name, problems=[Problem(severity=Severity.ERROR, where="file", field="format", message=str(error))]
        )
    return check_coupon_data(raw, places, operator_currencies, now, source=name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ticketing.coupon_check",
        description="Check coupon files (engine JSON or CSV) before publishing; every problem is listed.",
        epilog="Exit status: 0 no errors, 1 errors found, 2 a file could not be read.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="coupon files to check")
    parser.add_argument(
        "--currency",
        action="append",
        default=[],
        metavar="CODE",
        help="the operator's currency (repeatable): a coupon in another one is an error, as on the QA page",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    now = datetime.now(UTC)
    worst = 0
    for path in args.files:
        try:
            content = Path(path).read_bytes()
        except OSError as error:
            print(f"{path}: cannot read: {error.strerror}")
            worst = 2
            continue
        report = check_file(path, content, operator_currencies=[c.upper() for c in args.currency], now=now)
        print(report.text())
        if report.errors:
            worst = max(worst, 1)
    return worst


if __name__ == "__main__":
    sys.exit(main())
