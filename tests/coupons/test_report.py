"""The QA report: times without an offset read in the operator's zone, problems errors first, odds with two
decimals, margins, the liability, and the same report on the command line (`--json`) and as Markdown."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.coupons.support import small_coupon
from tests.support import sample_file
from ticketing.contract import wire
from ticketing.coupons.check import Severity, check_coupon_data, check_file
from ticketing.coupons.report import build_report, to_markdown
from ticketing.selling.pricing import TaxProfile

NAIROBI = ZoneInfo("Africa/Nairobi")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent.parent


def naive(raw: dict) -> dict:
    """The coupon as a QA tester types it: times without an offset."""
    strip = lambda value: datetime.fromisoformat(value).replace(tzinfo=None).isoformat()  # noqa: E731
    events = [event | {"kickoff": strip(event["kickoff"])} for event in raw["events"]]
    return raw | {"closes_at": strip(raw["closes_at"]), "events": events}


def test_a_time_without_an_offset_is_read_in_the_operators_zone_and_one_with_an_offset_as_written():
    typed = naive(small_coupon(NOW.replace(tzinfo=None).replace(tzinfo=UTC)))
    local = check_coupon_data(typed, [], ["KES"], NOW, zone=NAIROBI).coupon
    wire_format = check_coupon_data(typed, [], ["KES"], NOW).coupon
    assert local.closes_at == NOW + timedelta(days=1) - timedelta(hours=3), "12:00 in Nairobi is 09:00 UTC"
    assert wire_format.closes_at == NOW + timedelta(days=1), "the API's JSON keeps reading UTC"
    assert local.events[0].kickoff == wire_format.events[0].kickoff - timedelta(hours=3)
    explicit = check_coupon_data(small_coupon(NOW), [], ["KES"], NOW, zone=NAIROBI).coupon
    assert explicit.closes_at == NOW + timedelta(days=1)


def test_a_csv_files_times_are_the_operators_and_its_problems_say_so():
    content = sample_file("good_coupon.csv", NOW, closes_in=timedelta(hours=2))
    report = check_file("good_coupon.csv", content, ["KES"], NOW, zone=NAIROBI)
    deadline = report.problems[0]
    assert (deadline.field, deadline.severity) == ("closes_at", Severity.ERROR), "14:00 local is 11:00 UTC, past"
    assert deadline.message == "deadline 2026-11-25 14:00 EAT is in the past"
    assert check_file("good_coupon.csv", content, ["KES"], NOW).publishable


def test_problems_come_errors_first_each_in_the_files_order():
    report = check_file("broken_coupon.json", sample_file("broken_coupon.json", NOW), ["KES"], NOW)
    severities = [p.severity for p in report.problems]
    assert severities == sorted(severities, key=lambda s: s != Severity.ERROR) and severities[-1] == Severity.WARNING
    assert [p.where for p in report.problems][:2] == ["coupon", "coupon"]


def test_the_report_has_two_decimal_odds_margins_and_the_liability_at_the_largest_stake():
    raw = small_coupon(NOW, stake_rules={"min_stake": "10.00", "max_stake": "20.00"})
    report = build_report(check_coupon_data(raw, [], ["KES"], NOW), NAIROBI, NOW, TaxProfile())
    first = report.events[0]
    assert [str(first.odds[label]) for label in ("1", "X", "2")] == ["1.50", "4.00", "6.00"]
    assert first.margin == D("8.33") and first.chances["1"] == D("66.67") and first.favourite == "1"
    assert report.coupon.closes_at == "2026-11-26 15:00 EAT" and report.timezone == "Africa/Nairobi"
    risk = report.liability
    assert (risk.stake, risk.favourites, risk.favourites_odds) == (D("20.00"), "1111", D("13.50"))
    assert (risk.favourites_payout, risk.favourites_net_payout, risk.favourites_capped) == (
        D("270.00"),
        D("220.00"),
        False,
    )
    assert (risk.largest_payout, risk.largest_capped) == (D("500.00"), True), "6 x 3.80 x 3.10 x 4.50 x 20 > 500"


def test_the_markdown_export_holds_the_problems_the_events_and_the_liability():
    raw = small_coupon(NOW)
    raw["events"][0]["home"] = "Pipe | United"
    raw["events"][1]["odds"] = {"101": "1.10", "102": "1.20", "103": "1.30"}
    text = to_markdown(build_report(check_coupon_data(raw, [], ["KES"], NOW), NAIROBI, NOW, TaxProfile()))
    assert "Times without an offset are read as Africa/Nairobi" in text
    assert "| WARNING | event #2 (event 710002) | odds | margin +151.2%" in text
    assert "| 1 | 710001 | Pipe \\| United v Away 0 | QA League | 2026-11-26 16:00 EAT | 1.50 | 4.00 | 6.00 |" in text
    assert "The largest payout the cap allows: KES 500.00 (the cap)" in text


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ticketing.coupons.check", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )


def test_the_command_line_json_is_the_pages_report_with_the_same_exit_codes(tmp_path, monkeypatch):
    now = datetime.now(UTC)
    for name in ("good_coupon.json", "broken_coupon.json"):
        (tmp_path / name).write_bytes(sample_file(name, now))
    good, broken = str(tmp_path / "good_coupon.json"), str(tmp_path / "broken_coupon.json")
    monkeypatch.delenv("TICKETING_TIMEZONE", raising=False)
    answer = run_cli("--json", good, broken)
    assert answer.returncode == 1
    reports = wire.loads(answer.stdout)
    assert [(r["errors"], r["warnings"], r["publishable"]) for r in reports] == [(0, 0, True), (14, 1, False)]
    page = check_file(broken, (tmp_path / "broken_coupon.json").read_bytes(), (), now, zone=NAIROBI)
    assert reports[1]["problems"] == [p.model_dump(mode="json") for p in page.problems], "the page's rules"
    assert reports[0]["timezone"] == "Africa/Nairobi" and reports[0]["liability"]["largest_payout"] == D("5000000.00")
    assert run_cli("--json", good).returncode == 0
    missing = run_cli("--json", good, str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and json.loads(missing.stdout)[1]["problems"][0]["field"] == "read"
    typed = datetime.fromisoformat(wire.loads((tmp_path / "good_coupon.json").read_bytes())["closes_at"])
    assert reports[0]["coupon"]["closes_at"] == f"{typed:%Y-%m-%d %H:%M} EAT", "shown as the tester typed it"
    in_utc = wire.loads(run_cli("--json", "--timezone", "UTC", good).stdout)[0]
    assert in_utc["coupon"]["closes_at"] == f"{typed:%Y-%m-%d %H:%M} UTC"
    assert run_cli("--timezone", "Mars/Olympus", good).returncode == 2
