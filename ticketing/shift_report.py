"""A shift's tickets as a pandas table: filters, totals, sales per hour, CSV export. No Streamlit here.

Amounts stay `Decimal` in the table (object columns) so totals are exact; the CSV writes them with 2 decimals.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
from pydantic import BaseModel

from ticketing.models import Ticket

COLUMNS = [
    "created",
    "code",
    "id",
    "coupon_id",
    "user_id",
    "status",
    "result",
    "approved",
    "source",
    "picks",
    "total_odds",
    "stake",
    "payout",
    "tax",
    "net_payout",
    "currency",
]
MONEY_COLUMNS = ["stake", "payout", "tax", "net_payout"]


class ShiftTotals(BaseModel):
    tickets: int
    stakes: Decimal
    payouts: Decimal
    tax: Decimal


def period_bounds(first_day: date, last_day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """From the start of `first_day` to the end of `last_day`, local time of the shop."""
    start = datetime.combine(first_day, time.min, tzinfo=zone)
    end = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def tickets_frame(tickets: list[Ticket], zone: ZoneInfo) -> pd.DataFrame:
    rows = [
        {
            "created": pd.Timestamp(t.created).tz_convert(zone),
            "code": t.code,
            "id": t.id,
            "coupon_id": t.coupon_id,
            "user_id": t.user_id,
            "status": t.status.value,
            "result": t.result.value,
            "approved": t.approved,
            "source": t.source.value,
            "picks": "".join(e.pick for e in t.events),
            "total_odds": t.total_odds,
            "stake": t.stake,
            "payout": t.payout,
            "tax": t.tax,
            "net_payout": t.net_payout,
            "currency": t.currency,
        }
        for t in tickets
    ]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if frame.empty:
        frame["created"] = pd.to_datetime(frame["created"]).dt.tz_localize(zone)
    return frame


def filter_frame(frame: pd.DataFrame, statuses: list[str], results: list[str], coupons: list[str]) -> pd.DataFrame:
    """An empty filter list means "all"."""
    keep = pd.Series(True, index=frame.index)
    for column, chosen in (("status", statuses), ("result", results), ("coupon_id", coupons)):
        if chosen:
            keep &= frame[column].isin(chosen)
    return frame[keep].reset_index(drop=True)


def shift_totals(frame: pd.DataFrame) -> ShiftTotals:
    def total(column: str) -> Decimal:
        return sum(frame[column], Decimal("0.00"))

    return ShiftTotals(tickets=len(frame), stakes=total("stake"), payouts=total("payout"), tax=total("tax"))


def sales_per_hour(frame: pd.DataFrame, start: datetime, end: datetime, zone: ZoneInfo) -> pd.DataFrame:
    """Tickets and stakes for every hour of the period up to now, in the shop's time zone, hours without a sale
    included (as 0). `hour` is text (`14:00`, or `2026-11-25 14:00` over several days) so that a chart shows the
    shop's hours whatever the browser's time zone.

    `stakes` is a float: it only sizes a chart, the money figures come from `shift_totals`."""
    last = min(end, datetime.now(UTC).astimezone(zone) + timedelta(hours=1))
    hours = pd.date_range(start.astimezone(zone), last, freq="h", inclusive="left")
    if len(hours) == 0:
        return pd.DataFrame({"hour": [], "tickets": [], "stakes": []})
    label = "%H:00" if (end - start) <= timedelta(days=1) else "%Y-%m-%d %H:00"
    created = frame["created"].dt.floor("h")
    counts = created.value_counts().reindex(hours, fill_value=0)
    stakes = frame.assign(hour=created, stakes=frame["stake"].map(float)).groupby("hour")["stakes"].sum()
    return pd.DataFrame(
        {
            "hour": hours.strftime(label),
            "tickets": counts.to_numpy(),
            "stakes": stakes.reindex(hours, fill_value=0.0).to_numpy(),
        }
    )


TEXT_COLUMNS = ["code", "id", "coupon_id", "user_id"]
"""Identifiers a spreadsheet would read as numbers (a 19-digit user id loses its last digits, a code such as 446E44
becomes 4.46E+46): written as `="..."`, which Excel, LibreOffice and Google Sheets keep as text."""


def as_spreadsheet_text(value: str) -> str:
    return '="' + str(value).replace('"', '""') + '"'


def from_spreadsheet_text(cell: str) -> str:
    """The identifier back from a cell written by `as_spreadsheet_text`."""
    return cell[2:-1].replace('""', '"') if cell.startswith('="') and cell.endswith('"') else cell


def to_csv(frame: pd.DataFrame) -> bytes:
    """Exactly the rows and columns shown; amounts with 2 decimals, times in ISO 8601 with their offset,
    identifiers as text for spreadsheets."""
    export = frame.copy()
    export["created"] = export["created"].map(lambda t: t.isoformat())
    for column in TEXT_COLUMNS:
        export[column] = export[column].map(as_spreadsheet_text)
    for column in [*MONEY_COLUMNS, "total_odds"]:
        export[column] = export[column].map(lambda v: f"{v:.2f}")
    return export.to_csv(index=False).encode()
