"""Coupon QA: every problem kind found with its location, valid samples pass, the command line's exit codes.

The samples are dated relative to each test's clock (`sample_file`), so no outcome depends on the day of the run."""

import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.support import sample_coupon, sample_file
from ticketing.contract import wire
from ticketing.coupons.check import Severity, check_coupon_data, check_file, event_margins

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def report_of(name: str, currencies=("KES",)):
    return check_file(name, sample_file(name, NOW), currencies, NOW)


def found(report, where: str, field: str, text: str, severity=Severity.ERROR) -> bool:
    return any(
        p.severity == severity and p.where == where and p.field == field and text in p.message for p in report.problems
    )


@pytest.mark.parametrize(
    "where, field, text, severity",
    [
        ("coupon", "currency", '"KSH" is not a 3-letter ISO 4217 code', Severity.ERROR),
        ("coupon", "stake_rules", "min_stake 100 is above max_stake 50", Severity.ERROR),
        ("coupon", "fixed_stake", "fixed stake 500 is outside 100 to 50", Severity.ERROR),
        ("coupon", "max_payout", "max payout 10 is below the minimum stake 100", Severity.ERROR),
        ("event #2", "id", "missing event id", Severity.ERROR),
        ("event #1, event #3", "id", "duplicate event id 700001", Severity.ERROR),
        ("event #4 (event 700004)", "odds", "2 of the three 1X2 outcomes: no odds for 2", Severity.ERROR),
        ("event #5 (event 700005)", "odds", "unknown bet id(s) 104", Severity.ERROR),
        ("event #6 (event 700006)", "odds", "missing", Severity.ERROR),
        ("event #7 (event 700007)", "odds 1", "is not above 1.00", Severity.ERROR),
        ("event #8 (event 700008)", "odds 1", "2.555 has more than 2 decimals", Severity.ERROR),
        ("event #9 (event 700009)", "kickoff", "is in the past", Severity.ERROR),
        ("event #10 (event 700010)", "kickoff", "before the coupon's deadline", Severity.ERROR),
        ("event #11 (event 700011)", "home/away", "duplicate fixture Arsenal v Chelsea", Severity.ERROR),
        ("event #12 (event 700012)", "odds", "margin -40.0%", Severity.WARNING),
    ],
)
def test_broken_json_sample_has_every_problem_with_its_location(where, field, text, severity):
    report = report_of("broken_coupon.json")
    assert found(report, where, field, text, severity), report.text()
    assert report.coupon is None and not report.publishable


def test_broken_csv_sample_names_rows():
    report = report_of("broken_coupon.csv")
    assert found(report, "row 9 (event 600302)", "odds", "no odds for X")
    assert found(report, "row 10 (event 600302)", "kickoff", "not an ISO datetime")
    assert found(report, "row 11", "id", 'not a whole number: "abc"')
    assert found(report, "row 11", "home/away", "Lyon cannot play itself")
    assert found(report, "row 11", "odds 1", "0.95 is not above 1.00")
    assert found(report, "row 11", "odds 2", "2.2222 has more than 2 decimals")
    assert found(report, "row 9, row 10", "id", "duplicate event id 600302")


def test_empty_coupon_in_a_currency_the_operator_does_not_accept():
    report = report_of("broken_empty_coupon.json")
    assert found(report, "coupon", "events", "the coupon has no events")
    assert found(report, "coupon", "currency", "UGX is not accepted by the operator (KES)")


@pytest.mark.parametrize("name, events", [("good_coupon.json", 13), ("good_coupon.csv", 7)])
def test_valid_samples_pass_and_build_a_coupon(name, events):
    report = report_of(name)
    assert report.problems == [] and report.publishable
    assert len(report.coupon.events) == events
    margins = [row["margin"] for row in event_margins(report.coupon)]
    assert all(0 < m < 0.25 for m in margins)


def test_a_coupon_of_two_events_without_a_void_threshold_is_publishable():
    """The threshold's default (3) was checked as if the file had set it: "must be ... from 0 to the 2 events, is 3"."""
    raw = sample_coupon("good_coupon.json", NOW)
    raw["events"] = raw["events"][:2]
    assert "max_void_events" not in raw
    report = check_coupon_data(raw, [], ["KES"], NOW)
    assert report.errors == [] and report.publishable
    raw["max_void_events"] = 3
    assert found(check_coupon_data(raw, [], ["KES"], NOW), "coupon", "max_void_events", "from 0 to the 2 events")


def test_events_that_are_not_a_list_are_said_so_not_missing():
    raw = sample_coupon("good_coupon.json", NOW)
    raw["events"] = {"event": raw["events"][0]}
    report = check_coupon_data(raw, [], ["KES"], NOW)
    assert [(p.field, p.message) for p in report.errors] == [("events", "must be a list of events, is an object")]


def test_an_ambiguous_csv_is_refused_not_read_one_way_silently():
    """A second `# min_stake:` line won without a word; a ninth value on a row was dropped."""
    good = sample_file("good_coupon.csv", NOW).decode()
    twice = good.replace("# min_stake: 25\n", "# min_stake: 25\n# min_stake: 50\n", 1)
    report = check_file("twice.csv", twice.encode(), ["KES"], NOW)
    assert report.errors[0].where == "file" and "'# min_stake' is given a second time" in report.errors[0].message
    lines = good.splitlines()
    row = next(i for i, line in enumerate(lines) if line[:1].isdigit())
    lines[row] += ",9.99"
    report = check_file("extra.csv", "\n".join(lines).encode(), ["KES"], NOW)
    assert f"line {row + 1}: 1 value(s) beyond the 8 columns" in report.errors[0].message


def test_a_csv_column_given_twice_or_a_misspelt_field_is_refused():
    """The last `odds_1` column won without a word (every home price 9.99); `# fixed stake:` (for `fixed_stake`)
    was dropped, and the coupon published without its fixed stake."""
    good = sample_file("good_coupon.csv", NOW).decode()
    columns = "event_id,home,away,competition,kickoff,odds_1,odds_x,odds_2"
    doubled = good.replace(columns, columns + ",odds_1", 1)
    lines = doubled.splitlines()
    column_line = lines.index(columns + ",odds_1") + 1
    report = check_file("doubled.csv", doubled.encode(), ["KES"], NOW)
    assert report.errors[0].message == f"line {column_line}: column odds_1 given twice"
    misspelt = good.replace("# fixed_stake:", "# fixed stake: 100", 1)
    report = check_file("misspelt.csv", misspelt.encode(), ["KES"], NOW)
    assert "'# fixed stake' is not a coupon field" in report.errors[0].message and not report.publishable


def test_a_csv_in_another_encoding_than_utf8_is_refused_by_name():
    """Latin-1 "Atlético" passed as "Atl�tico"; UTF-16 was said to miss its columns."""
    good = sample_file("good_coupon.csv", NOW).decode()
    latin = good.replace("Arsenal", "Atlético Madrid", 1)
    line = next(n for n, text in enumerate(latin.splitlines(), start=1) if "Atlético" in text)
    report = check_file("latin.csv", latin.encode("latin-1"), ["KES"], NOW)
    assert report.errors[0].message.startswith(f"line {line}: byte 0xE9 is not UTF-8 text")
    report = check_file("wide.csv", good.encode("utf-16"), ["KES"], NOW)
    assert report.errors[0].message.startswith("the file is UTF-16 text")
    assert check_file("bom.csv", good.encode("utf-8-sig"), ["KES"], NOW).publishable


def test_rows_are_named_by_their_file_line_after_a_value_on_two_lines():
    """A quoted competition spanning two lines put every later row's line number one short."""
    good = sample_file("good_coupon.csv", NOW).decode()
    lines = good.splitlines()
    first = next(i for i, line in enumerate(lines) if line[:1].isdigit())
    lines[first] = lines[first].replace("Premier League", '"Premier\nLeague"', 1)
    broken = next(i for i in range(first + 1, len(lines)) if lines[i][:1].isdigit())
    lines[broken] = lines[broken].rsplit(",", 1)[0] + ",0.95"
    text = "\n".join(lines)
    report = check_file("multiline.csv", text.encode(), ["KES"], NOW)
    file_line = next(n for n, line in enumerate(text.splitlines(), start=1) if line.endswith(",0.95"))
    assert [p.where for p in report.errors] == [f"row {file_line} (event 600202)"]


def test_not_a_coupon_file():
    report = check_file("x.json", b"[1, 2", ["KES"], NOW)
    assert report.errors[0].where == "file" and "not valid JSON" in report.errors[0].message
    report = check_file("x.csv", b"a,b\n1,2\n", ["KES"], NOW)
    assert "CSV columns missing" in report.errors[0].message
    assert [p.message for p in check_file("empty.csv", b" \n", ["KES"], NOW).errors] == ["the file is empty"]


def run_cli(*names: Path | str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ticketing.coupons.check", *map(str, names)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_command_line_exit_codes_and_report(tmp_path):
    """The command line reads the real clock, so the samples it checks are dated from now."""
    for name in ("good_coupon.json", "good_coupon.csv", "broken_coupon.json"):
        (tmp_path / name).write_bytes(sample_file(name, datetime.now(UTC)))
    good = run_cli(tmp_path / "good_coupon.json", tmp_path / "good_coupon.csv")
    assert good.returncode == 0 and "0 error(s), 0 warning(s)" in good.stdout
    broken = run_cli(tmp_path / "good_coupon.json", tmp_path / "broken_coupon.json")
    assert broken.returncode == 1
    assert f"{tmp_path / 'broken_coupon.json'}: 14 error(s), 1 warning(s)" in broken.stdout
    assert "ERROR   event #2 [id]: missing event id" in broken.stdout
    missing = run_cli("samples/nope.json")
    assert missing.returncode == 2 and "cannot read" in missing.stdout
    assert run_cli().returncode == 2


def test_bonus_prizes_and_the_void_threshold_are_checked():
    good = sample_coupon("good_coupon.json", NOW)
    events = len(good["events"])
    broken = good | {
        "max_void_events": events + 1,
        "bonus_prizes": {str(events): 10, str(events - 1): 500, str(events - 2): 900, "x": 5, "1": "1.001"},
    }
    report = check_coupon_data(broken, [], ["KES"], NOW)
    fields = sorted(p.field for p in report.errors)
    assert fields == sorted(
        [
            "max_void_events",
            f"bonus_prizes.{events}",
            f"bonus_prizes.{events - 1}",
            "bonus_prizes.x",
            "bonus_prizes.1",
        ]
    ), report.errors
    fine = good | {"max_void_events": 2, "bonus_prizes": {str(events - 1): 900, str(events - 2): 500}}
    coupon = check_coupon_data(fine, [], ["KES"], NOW).coupon
    assert coupon.max_void_events == 2 and coupon.bonus_prizes == {events - 1: D("900.00"), events - 2: D("500.00")}


def test_command_line_help_is_help_not_a_file_name():
    shown = run_cli("--help")
    assert shown.returncode == 0
    assert "usage: python -m ticketing.coupons.check" in shown.stdout and "cannot read" not in shown.stdout


def test_command_line_checks_what_the_qa_page_checks_by_default(tmp_path):
    """The page checks the operator's currency and cap; the command line checked neither unless told (a USD coupon
    with a 500,000,000 cap: 0 errors there, 2 on the page). The command line reads the real clock: the coupon is
    dated from now (dated from a fixed day, its deadline passed two days later and the test failed)."""
    raw = sample_coupon("good_coupon.json", datetime.now(UTC)) | {"currency": "USD", "max_payout": "500000000"}
    path = tmp_path / "usd_bigcap.json"
    path.write_bytes(wire.dumps(raw))
    checked = run_cli(path)
    assert checked.returncode == 1 and "2 error(s)" in checked.stdout, checked.stdout
    assert "the operator's currency is KES and its cap 100,000,000.00" in checked.stdout


def test_command_line_checks_the_operator_currency_as_the_qa_page_does():
    checked = run_cli("--currency", "EUR", "samples/good_coupon.json")
    assert checked.returncode == 1 and "KES is not accepted by the operator (EUR)" in checked.stdout
    assert run_cli("--currency", "kes", "samples/good_coupon.json").returncode == 0


def test_a_bad_value_is_quoted_as_the_file_wrote_it():
    """Messages showed Python's spelling of a value: `Decimal('500101.0')`, `True`."""
    raw = sample_coupon("good_coupon.json", NOW)
    raw["events"][0]["id"] = D("500101.0")
    raw["events"][1]["odds"]["101"] = True
    report = check_coupon_data(raw, [], ["KES"], NOW)
    messages = [p.message for p in report.errors]
    assert "not a whole number: 500101.0" in messages and "not a number: true" in messages, messages


def test_every_problem_of_a_file_is_listed_at_once_in_plain_words():
    """An id with a space and a name that was a list showed only once the odds were fixed, in the validation
    library's words ("String should match pattern ..."); misspelt fields were dropped without a word."""
    raw = sample_coupon("good_coupon.json", NOW)
    raw |= {"id": "JP 2099/20", "name": ["x"], "bonus_prize": {"12": 100}}
    raw["stake_rules"]["fixed_stak"] = 100
    raw["events"][0]["odds"]["101"] = "0.95"
    raw["events"][1]["home"] = 7
    first, second = raw["events"][0]["id"], raw["events"][1]["id"]
    shown = {(p.where, p.field, p.message) for p in check_coupon_data(raw, [], ["KES"], NOW).errors}
    assert ("coupon", "id", '"JP 2099/20": letters, digits, - and _ only') in shown
    assert ("coupon", "name", "must be text") in shown
    assert any(where == f"event #1 (event {first})" and "0.95" in message for where, _f, message in shown)
    assert (f"event #2 (event {second})", "home", "must be text") in shown
    assert {("coupon", "bonus_prize"), ("coupon", "fixed_stak")} <= {(where, field) for where, field, _m in shown}
