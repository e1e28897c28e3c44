"""A shift's tickets as a pandas table: filters, totals, sales per hour, CSV export; a till shift's cash operations
and end-of-shift figures. No Streamlit here.

Amounts stay `Decimal` in the table (object columns) so totals are exact; the CSV writes them with 2 decimals.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
from pydantic import BaseModel

from ticketing.contract.models import Shift, Ticket, TicketResult, TicketStatus

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
    "payout_state",
    "owed",
    "paid_at",
    "paid_by",
    "currency",
]
MONEY_COLUMNS = ["stake", "payout", "tax", "net_payout"]
OPERATION_COLUMNS = ["at", "kind", "ticket_code", "ticket_id", "amount", "result", "payout_state"]


def payout_state(ticket: Ticket) -> str:
    """Where the money of a ticket stands at the counter: `waiting`, `to pay`, `paid`, `not a winner`, ..."""
    settled = ticket.settlement
    if ticket.status == TicketStatus.CANCELLED:
        return "cancelled, refunded"
    if settled is None:
        return "waiting"
    if settled.paid is not None:
        return f"paid, {settled.paid.follow_up}" if settled.paid.follow_up else "paid"
    if settled.result == TicketResult.LOST:
        return "not a winner"
    if settled.credited > 0:
        return "credited"
    return "to pay"


def owed(ticket: Ticket) -> Decimal | None:
    """The settled amount: a winner's net payout or a void ticket's refund (None until settled)."""
    settled = ticket.settlement
    if settled is None:
        return None
    return settled.refund if settled.result == TicketResult.VOID else settled.net_payout


class ShiftTotals(BaseModel):
    """The tickets listed, and the money of those that stand: a cancelled ticket's stake was refunded and it can no
    longer win, so it is counted (`cancelled`) but in no sum (a review in the browser found it in them)."""

    tickets: int
    cancelled: int
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
            "payout_state": payout_state(t),
            "owed": owed(t),
            "paid_at": _local(t.settlement.paid.paid_at, zone) if t.settlement and t.settlement.paid else None,
            "paid_by": t.settlement.paid.till if t.settlement and t.settlement.paid else "",
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
    standing = frame[frame["status"] != TicketStatus.CANCELLED.value]

    def total(column: str) -> Decimal:
        return sum(standing[column], Decimal("0.00"))

    return ShiftTotals(
        tickets=len(frame),
        cancelled=len(frame) - len(standing),
        stakes=total("stake"),
        payouts=total("payout"),
        tax=total("tax"),
    )


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
    export["paid_at"] = export["paid_at"].map(_iso_or_blank)
    for column in TEXT_COLUMNS:
        export[column] = export[column].map(as_spreadsheet_text)
    for column in [*MONEY_COLUMNS, "total_odds", "owed"]:
        export[column] = export[column].map(_two_decimals_or_blank)
    return export.to_csv(index=False).encode()


def _local(moment: datetime, zone: ZoneInfo) -> pd.Timestamp:
    return pd.Timestamp(moment).tz_convert(zone)


def _iso_or_blank(moment) -> str:
    return "" if moment is None or pd.isna(moment) else moment.isoformat()


def _two_decimals_or_blank(value) -> str:
    return "" if value is None or (not isinstance(value, Decimal) and pd.isna(value)) else f"{value:.2f}"


# ---- a till's shift: cash operations and the end-of-shift figures ------------------------------------------------


class ShiftFigures(BaseModel):
    """The end-of-shift report's lines: every figure from the shift's own cash operations."""

    sales: int
    sales_amount: Decimal
    cash_added: int
    cash_added_amount: Decimal
    payouts: int
    payouts_amount: Decimal
    refunds: int
    refunds_amount: Decimal
    cancellations: int
    cancellations_amount: Decimal
    """Refunds of tickets cancelled at the till (the rest of the refunds are void tickets paid back)."""
    float: Decimal
    expected: Decimal
    counted: Decimal | None
    difference: Decimal | None


def shift_figures(shift: Shift, tickets: dict[str, Ticket]) -> ShiftFigures:
    """`tickets` by id: at least those of the shift's refunds, to tell cancellations apart."""
    cancelled = [
        op
        for op in shift.operations
        if op.kind == "refund" and op.ticket_id in tickets and tickets[op.ticket_id].status == TicketStatus.CANCELLED
    ]
    return ShiftFigures(
        sales=shift.stakes_count,
        sales_amount=shift.stakes,
        cash_added=shift.cash_added_count,
        cash_added_amount=shift.cash_added,
        payouts=shift.payouts_count,
        payouts_amount=shift.payouts,
        refunds=shift.refunds_count,
        refunds_amount=shift.refunds,
        cancellations=len(cancelled),
        cancellations_amount=sum((-op.amount for op in cancelled), Decimal("0.00")),
        float=shift.float,
        expected=shift.expected,
        counted=shift.counted,
        difference=shift.difference,
    )


def operations_frame(shift: Shift, tickets: dict[str, Ticket], zone: ZoneInfo) -> pd.DataFrame:
    """One row per cash operation, oldest first; amounts signed (cash into the till positive)."""
    rows = []
    for op in shift.operations:
        ticket = tickets.get(op.ticket_id) if op.ticket_id else None
        rows.append(
            {
                "at": _local(op.at, zone),
                "kind": op.kind,
                "ticket_code": ticket.code if ticket else "",
                "ticket_id": op.ticket_id or "",
                "amount": op.amount,
                "result": ticket.result.value if ticket else "",
                "payout_state": payout_state(ticket) if ticket else "",
            }
        )
    return pd.DataFrame(rows, columns=OPERATION_COLUMNS)


def operations_to_csv(frame: pd.DataFrame) -> bytes:
    export = frame.copy()
    export["at"] = export["at"].map(lambda t: t.isoformat())
    export["amount"] = export["amount"].map(lambda v: f"{v:.2f}")
    return export.to_csv(index=False).encode()
