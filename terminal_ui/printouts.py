"""The counter's other printouts, in the receipt's style: the payout slip and the end-of-shift report. Each is one
self-contained HTML page, escaped throughout, with a Print button that is hidden on paper."""

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from ticketing.contract.models import PayoutSlip, Shift, Ticket
from ticketing.contract.money import format_money
from ticketing.shifts.report import ShiftFigures

PRINTOUT_CSS = """
body { font-family: 'DejaVu Sans Mono', 'Courier New', monospace; margin: 0; color: #111; }
.receipt { width: 72mm; margin: 0 auto; padding: 4mm; border: 1px dashed #999; background: #fff; }
.receipt h1 { font-size: 15px; text-align: center; margin: 0 0 2mm; }
.code { font-size: 30px; font-weight: bold; letter-spacing: 4px; text-align: center; margin: 2mm 0; }
.meta, .totals { width: 100%; font-size: 11px; border-collapse: collapse; }
.num { text-align: right; white-space: nowrap; padding-left: 2mm; } .big { font-size: 13px; font-weight: bold; }
.actions { text-align: center; margin: 3mm 0; }
.actions button { font-size: 15px; padding: 6px 18px; cursor: pointer; }
@media print { .actions { display: none; } .receipt { border: none; } @page { margin: 0; } }
"""


def signatures(left: str, right: str) -> str:
    return f"<table class='meta'><tr><td>{left} __________</td><td class='num'>{right} __________</td></tr></table>"


def _page(body: str, printable: bool, button: str) -> str:
    actions = f"<div class='actions'><button onclick='window.print()'>{button}</button></div>" if printable else ""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><style>{PRINTOUT_CSS}</style></head><body>"
        f"{actions}{body}</body></html>"
    )


def _local(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or ''}".strip()


def payout_slip_html(slip: PayoutSlip, ticket: Ticket, timezone: str, printable: bool = True) -> str:
    zone = ZoneInfo(timezone)
    money = lambda amount: escape(format_money(amount, slip.currency))  # noqa: E731 - a local shorthand
    settled = ticket.settlement
    if slip.record.kind == "refund":
        lines = [("Stake refunded", money(slip.amount))]
        what = "REFUND"
    else:
        tier = f"bonus prize, {slip.prize_tier} correct" if slip.prize_tier else "jackpot, every pick correct"
        lines = [("Prize", escape(tier))]
        if settled is not None:
            lines += [("Payout", money(settled.payout)), ("Withholding tax", money(settled.tax))]
        what = "PAYOUT"
    rows = "".join(f"<tr><td>{label}</td><td class='num'>{value}</td></tr>" for label, value in lines)
    body = f"""<div class='receipt' data-payout-code='{escape(slip.code)}'>
<h1>JACKPOT {what} SLIP</h1>
<div class='code'>{escape(slip.code)}</div>
<table class='meta'>
<tr><td>Ticket id</td><td class='num'>{escape(slip.ticket_id)}</td></tr>
<tr><td>Coupon</td><td class='num'>{escape(ticket.coupon_id)}</td></tr>
<tr><td>Stake</td><td class='num'>{money(ticket.stake)}</td></tr>
<tr><td>Paid</td><td class='num'>{escape(_local(slip.record.paid_at, zone))}</td></tr>
<tr><td>Till</td><td class='num'>{escape(slip.record.till)} · shift {slip.record.shift_id}</td></tr>
</table>
<table class='totals'>{rows}
<tr class='big'><td>PAID IN CASH</td><td class='num'>{money(slip.amount)}</td></tr>
</table>
<p></p>{signatures("Cashier", "Customer")}
</div>"""
    return _page(body, printable, "Print payout slip")


def shift_report_html(
    shift: Shift, figures: ShiftFigures, currency: str, timezone: str, printed_at: datetime, printable: bool = True
) -> str:
    zone = ZoneInfo(timezone)
    money = lambda amount: escape(format_money(amount, currency))  # noqa: E731 - a local shorthand

    counted = money(figures.counted) if figures.counted is not None else "not counted yet"
    if figures.difference is None:
        verdict = "OPEN"
    elif figures.difference == 0:
        verdict = "BALANCED"
    else:
        verdict = f"{'OVER' if figures.difference > 0 else 'SHORT'} {money(abs(figures.difference))}"
    closed = _local(shift.closed_at, zone) if shift.closed_at else "still open"
    body = f"""<div class='receipt' data-shift-id='{shift.id}'>
<h1>END OF SHIFT REPORT</h1>
<table class='meta'>
<tr><td>Till</td><td class='num'>{escape(shift.till)} · shift {shift.id}</td></tr>
<tr><td>Operator</td><td class='num'>{escape(shift.operator)}</td></tr>
<tr><td>Opened</td><td class='num'>{escape(_local(shift.opened_at, zone))}</td></tr>
<tr><td>Closed</td><td class='num'>{escape(closed)}</td></tr>
</table>
<table class='totals'>
<tr><td>Float</td><td class='num'>{money(figures.float)}</td></tr>
<tr><td>Sales ({figures.sales})</td><td class='num'>+{money(figures.sales_amount)}</td></tr>
<tr><td>Cash added ({figures.cash_added})</td><td class='num'>+{money(figures.cash_added_amount)}</td></tr>
<tr><td>Payouts ({figures.payouts})</td><td class='num'>−{money(figures.payouts_amount)}</td></tr>
<tr><td>Refunds ({figures.refunds})</td><td class='num'>−{money(figures.refunds_amount)}</td></tr>
<tr><td>&nbsp; incl. cancellations ({figures.cancellations})</td>
<td class='num'>{money(figures.cancellations_amount)}</td></tr>
<tr class='big'><td>Expected cash</td><td class='num'>{money(figures.expected)}</td></tr>
<tr class='big'><td>Counted cash</td><td class='num'>{counted}</td></tr>
<tr class='big'><td>Difference</td><td class='num'>{escape(verdict)}</td></tr>
</table>
<p style='font-size:10px;text-align:center'>Printed {escape(_local(printed_at, zone))}</p>
{signatures("Cashier", "Manager")}
</div>"""
    return _page(body, printable, "Print shift report")
