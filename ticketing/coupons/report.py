"""The QA report of a coupon file, as the page shows it, the command line prints it (`--json` for pipelines) and a
QA tester attaches it to a ticket (Markdown).

What a sign-off needs on one page: the problems, errors first, each with where it is; the coupon's terms with its
times in the operator's zone (and which zone a time without an offset was read in); every event's odds with two
decimals, implied chances and margin; and the liability: what one ticket at the largest stake is paid if every
event goes the favourite's way, and the largest payout the cap allows.

    python -m ticketing.coupons.check [--json | --markdown] [--timezone ZONE] FILE...
        exit 0: no errors, 1: errors found, 2: a file could not be read (or the zone is unknown)
"""

import argparse
import os
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field

from ticketing.contract import wire
from ticketing.contract.models import BET_IDS, DEFAULT_TIMEZONE, PICK_LABELS, Coupon, Money
from ticketing.contract.money import round_odds
from ticketing.coupons.check import CheckReport, Problem, Severity, check_file, local_time
from ticketing.demo.data import DEMO_CURRENCY
from ticketing.selling.pricing import TaxProfile, price_ticket
from ticketing.settings import Settings

PERCENT = Decimal("0.01")


class EventLine(BaseModel):
    number: int
    event_id: int
    fixture: str
    competition: str
    kickoff: str = Field(description="In the report's zone")
    odds: dict[str, Decimal] = Field(description='By outcome, two decimals: {"1": 2.05, "X": 3.50, "2": 3.60}')
    chances: dict[str, Decimal] = Field(description="Implied chance of each outcome (1/odds), in percent")
    margin: Decimal = Field(description="Sum of 1/odds - 1, in percent")
    favourite: str = Field(description="The outcome with the lowest odds")


class Liability(BaseModel):
    """One ticket's worth at the coupon's largest stake (its fixed stake, else its maximum)."""

    stake: Money
    favourites: str = Field(description="The pick string of every favourite")
    favourites_odds: Decimal
    favourites_payout: Money = Field(description="Paid to a ticket of every favourite if every favourite wins")
    favourites_net_payout: Money
    favourites_capped: bool
    largest_payout: Money = Field(description="The most one ticket can be paid: the cap, or the longest odds' payout")
    largest_capped: bool
    max_payout: Money | None
    bonus_prizes: dict[int, Money]


class CouponTerms(BaseModel):
    id: str
    name: str
    currency: str
    closes_at: str = Field(description="In the report's zone")
    min_stake: Money
    max_stake: Money
    fixed_stake: Money | None
    max_payout: Money | None
    max_void_events: int
    bonus_prizes: dict[int, Money]
    events: int


class QaReport(BaseModel):
    source: str
    checked_at: str
    timezone: str = Field(description="Times without an offset were read, and every time is shown, in this zone")
    errors: int
    warnings: int
    publishable: bool
    problems: list[Problem] = Field(description="Errors first, each with where it is")
    coupon: CouponTerms | None = None
    events: list[EventLine] = Field(default_factory=list)
    liability: Liability | None = None


def event_lines(coupon: Coupon, zone: ZoneInfo) -> list[EventLine]:
    lines = []
    for number, event in enumerate(coupon.events, start=1):
        odds = {PICK_LABELS[bet]: round_odds(event.odds[bet]) for bet in BET_IDS if bet in event.odds}
        implied = {label: 1 / value for label, value in odds.items()}
        lines.append(
            EventLine(
                number=number,
                event_id=event.id,
                fixture=event.fixture,
                competition=event.competition,
                kickoff=local_time(event.kickoff, zone),
                odds=odds,
                chances={label: (chance * 100).quantize(PERCENT) for label, chance in implied.items()},
                margin=((sum(implied.values()) - 1) * 100).quantize(PERCENT),
                favourite=min(odds, key=odds.get),
            )
        )
    return lines


def liability(coupon: Coupon, profile: TaxProfile) -> Liability:
    rules = coupon.stake_rules
    stake = rules.fixed_stake if rules.fixed_stake is not None else rules.max_stake
    favourites = [min(event.odds.values()) for event in coupon.events]
    longest = [max(event.odds.values()) for event in coupon.events]
    on_favourites = price_ticket(stake, favourites, profile, coupon.max_payout)
    on_longest = price_ticket(stake, longest, profile, coupon.max_payout)
    return Liability(
        stake=stake,
        favourites="".join(
            PICK_LABELS[min(event.odds, key=lambda bet: (event.odds[bet], bet))] for event in coupon.events
        ),
        favourites_odds=on_favourites.display_odds,
        favourites_payout=on_favourites.payout,
        favourites_net_payout=on_favourites.net_payout,
        favourites_capped=on_favourites.capped,
        largest_payout=on_longest.payout,
        largest_capped=on_longest.capped,
        max_payout=coupon.max_payout,
        bonus_prizes=coupon.bonus_prizes,
    )


def build_report(check: CheckReport, zone: ZoneInfo, now: datetime, profile: TaxProfile) -> QaReport:
    report = QaReport(
        source=check.source,
        checked_at=local_time(now, zone),
        timezone=zone.key,
        errors=len(check.errors),
        warnings=len(check.warnings),
        publishable=check.publishable,
        problems=check.problems,
    )
    coupon = check.coupon
    if coupon is None:
        return report
    rules = coupon.stake_rules
    report.coupon = CouponTerms(
        id=coupon.id,
        name=coupon.name,
        currency=coupon.currency,
        closes_at=local_time(coupon.closes_at, zone),
        min_stake=rules.min_stake,
        max_stake=rules.max_stake,
        fixed_stake=rules.fixed_stake,
        max_payout=coupon.max_payout,
        max_void_events=coupon.max_void_events,
        bonus_prizes=coupon.bonus_prizes,
        events=len(coupon.events),
    )
    report.events = event_lines(coupon, zone)
    report.liability = liability(coupon, profile)
    return report


def _cell(value: object) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


def _amount(value: Decimal | None, currency: str) -> str:
    return "none" if value is None else f"{currency} {value:,.2f}"


def to_markdown(report: QaReport) -> str:
    verdict = "publishable" if report.publishable else "NOT publishable"
    lines = [
        f"# Coupon QA report: {_cell(report.source)}",
        "",
        f"Checked {report.checked_at}. **{report.errors} error(s), {report.warnings} warning(s): {verdict}.**",
        f"Times without an offset are read as {report.timezone}; every time below is in {report.timezone}.",
        "",
        "## Problems",
        "",
    ]
    if report.problems:
        lines += ["| severity | where | field | problem |", "|---|---|---|---|"]
        lines += [
            f"| {p.severity.value.upper()} | {_cell(p.where)} | {_cell(p.field)} | {_cell(p.message)} |"
            for p in report.problems
        ]
    else:
        lines.append("None.")
    coupon = report.coupon
    if coupon is not None:
        fixed = f" (fixed {coupon.fixed_stake:,.2f})" if coupon.fixed_stake is not None else ""
        prizes = ", ".join(f"{k} correct: {v:,.2f}" for k, v in sorted(coupon.bonus_prizes.items(), reverse=True))
        lines += [
            "",
            f"## Coupon {_cell(coupon.id)}: {_cell(coupon.name)}",
            "",
            f"- Currency {coupon.currency}, closes {coupon.closes_at}, {coupon.events} events",
            f"- Stakes {coupon.min_stake:,.2f} to {coupon.max_stake:,.2f}{fixed}; max payout "
            f"{_amount(coupon.max_payout, coupon.currency)}; a round with more than {coupon.max_void_events} void "
            "events is void",
            f"- Bonus prizes: {prizes or 'none'}",
            "",
            "## Events",
            "",
            "| # | event | fixture | competition | kickoff | 1 | X | 2 | margin | favourite |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for e in report.events:
            odds = " | ".join(f"{e.odds[label]:.2f}" if label in e.odds else "" for label in ("1", "X", "2"))
            lines.append(
                f"| {e.number} | {e.event_id} | {_cell(e.fixture)} | {_cell(e.competition)} | {e.kickoff} | {odds} "
                f"| {e.margin:.2f}% | {e.favourite} |"
            )
    risk = report.liability
    if risk is not None:
        currency = coupon.currency
        capped = " (capped)" if risk.favourites_capped else ""
        lines += [
            "",
            "## Liability",
            "",
            f"- Every event going the favourite's way (`{risk.favourites}`, total odds {risk.favourites_odds:,.2f}):"
            f" one ticket at the largest stake, {_amount(risk.stake, currency)}, is paid"
            f" {_amount(risk.favourites_payout, currency)}{capped},"
            f" {_amount(risk.favourites_net_payout, currency)} after tax",
            f"- The largest payout the cap allows: {_amount(risk.largest_payout, currency)}"
            + (" (the cap)" if risk.largest_capped else " (the longest odds at the largest stake, under the cap)"),
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ticketing.coupons.check",
        description="Check coupon files (engine JSON or CSV) before publishing; every problem is listed.",
        epilog="Exit status: 0 no errors, 1 errors found, 2 a file could not be read.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="coupon files to check")
    parser.add_argument(
        "--currency",
        action="append",
        default=[],
        metavar="CODE",
        help=f"the operator's currency (repeatable; default {DEMO_CURRENCY}, this install's operator): a coupon in "
        "another one is an error, as on the QA page",
    )
    parser.add_argument(
        "--max-payout",
        type=Decimal,
        default=Settings.from_env().max_payout,
        metavar="AMOUNT",
        help="the operator's cap on a ticket's payout (default: TICKETING_MAX_PAYOUT, else %(default)s): a coupon's "
        "own cap above it is an error, as on the QA page",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON report per file, as a list")
    output.add_argument("--markdown", action="store_true", help="the reports as Markdown")
    parser.add_argument(
        "--timezone",
        default=os.environ.get("TICKETING_TIMEZONE") or DEFAULT_TIMEZONE,
        help="where a time without an offset is (default: TICKETING_TIMEZONE, else %(default)s)",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.files:
        parser.print_usage(sys.stderr)
        return 2
    try:
        zone = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"unknown time zone: {args.timezone}", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    currencies = [c.upper() for c in args.currency] or [DEMO_CURRENCY]
    plain = not (args.json or args.markdown)
    if plain:
        print(
            f"Times without an offset are read as {zone.key}; the operator's currency is {', '.join(currencies)} "
            f"and its cap {args.max_payout:,.2f} (--currency, --max-payout)."
        )
    worst = 0
    reports = []
    for path in args.files:
        try:
            content = Path(path).read_bytes()
        except OSError as error:
            message = f"cannot read: {error.strerror}"
            check = CheckReport(
                source=path, problems=[Problem(severity=Severity.ERROR, where="file", field="read", message=message)]
            )
            worst, text = 2, f"{path}: {message}"
        else:
            check = check_file(path, content, currencies, now, operator_max_payout=args.max_payout, zone=zone)
            worst, text = max(worst, 1 if check.errors else 0), check.text()
        reports.append(build_report(check, zone, now, TaxProfile()))
        if plain:
            print(text)
    if args.json:
        print(wire.dumps(reports).decode())
    elif args.markdown:
        print("\n".join(to_markdown(report) for report in reports))
    return worst
