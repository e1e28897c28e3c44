"""The printed receipt: one self-contained HTML page (styles and QR code inline), escaped throughout."""

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

import segno

from ticketing.models import Coupon, Ticket
from ticketing.money import format_money

RECEIPT_CSS = """
body { font-family: 'DejaVu Sans Mono', 'Courier New', monospace; margin: 0; color: #111; }
.receipt { width: 72mm; margin: 0 auto; padding: 4mm; border: 1px dashed #999; background: #fff; }
.receipt h1 { font-size: 15px; text-align: center; margin: 0 0 2mm; }
.code { font-size: 30px; font-weight: bold; letter-spacing: 4px; text-align: center; margin: 2mm 0; }
.copy { text-align: center; font-weight: bold; border: 2px solid #111; margin: 2mm 0; padding: 1mm; }
.test { text-align: center; font-size: 26px; font-weight: bold; color: #b00020; border: 4px solid #b00020;
        margin: 2mm 0; padding: 2mm 1mm; line-height: 1.15; }
.qr { text-align: center; line-height: 0; } .qr svg { width: 34mm; height: 34mm; }
.meta, .picks, .totals { width: 100%; font-size: 11px; border-collapse: collapse; }
.picks td { border-top: 1px dotted #bbb; padding: 1mm 0; vertical-align: top; }
.num { text-align: right; white-space: nowrap; padding-left: 2mm; } .big { font-size: 13px; font-weight: bold; }
.actions { text-align: center; margin: 3mm 0; }
.cancel { font-size: 11px; text-align: center; margin: 2mm 0 0; }
.actions button { font-size: 15px; padding: 6px 18px; cursor: pointer; }
@media print { .actions { display: none; } .receipt { border: none; } @page { margin: 0; } }
"""


TEST_MARK = "TEST – NOT VALID"


def qr_svg(code: str) -> str:
    return segno.make(code, error="m").svg_inline(scale=4, border=2)


def receipt_html(
    ticket: Ticket,
    coupon: Coupon | None,
    timezone: str,
    copy: bool = False,
    printable: bool = False,
    cancellable_until: datetime | None = None,
) -> str:
    """The receipt; with `printable`, a Print button that prints just this page (hidden on paper). With
    `cancellable_until` (while the till may still take the ticket back), that time in the terminal's zone. A coupon
    sandbox's test ticket says `TEST – NOT VALID` in large letters above its code and again under its totals."""
    zone = ZoneInfo(timezone)
    sold_at: datetime = ticket.created.astimezone(zone)
    events = {e.id: e for e in coupon.events} if coupon else {}
    rows = []
    for number, pick in enumerate(ticket.events, start=1):
        event = events.get(pick.id)
        fixture = escape(event.fixture) if event else f"Event {pick.id}"
        rows.append(
            f"<tr><td>{number}.</td><td>{fixture}</td>"
            f"<td class='num'><b>{escape(pick.pick)}</b> @ {pick.odds:.2f}</td></tr>"
        )
    money = lambda amount: escape(format_money(amount, ticket.currency))  # noqa: E731 - a local shorthand
    coupon_name = escape(coupon.name) if coupon else ""
    actions = "<div class='actions'><button onclick='window.print()'>Print receipt</button></div>" if printable else ""
    not_valid = f"<div class='test'>{TEST_MARK}</div>" if ticket.test else ""
    return f"""<!doctype html><html><head><meta charset='utf-8'><style>{RECEIPT_CSS}</style></head><body>
{actions}
<div class='receipt' data-ticket-code='{escape(ticket.code)}'>
<h1>JACKPOT TICKET</h1>
{"<div class='copy'>COPY - REPRINT</div>" if copy else ""}
{not_valid}
<div class='code'>{escape(ticket.code)}</div>
<div class='qr'>{qr_svg(ticket.code)}</div>
<table class='meta'>
<tr><td>Ticket id</td><td class='num'>{escape(ticket.id)}</td></tr>
<tr><td>Sold</td><td class='num'>{sold_at:%Y-%m-%d %H:%M:%S} {escape(sold_at.tzname() or "")}</td></tr>
<tr><td>Coupon</td><td class='num'>{escape(ticket.coupon_id)} {coupon_name}</td></tr>
</table>
<table class='picks'>{"".join(rows)}</table>
<table class='totals'>
<tr><td>Total odds</td><td class='num'>{ticket.total_odds:,.2f}</td></tr>
<tr><td>Stake</td><td class='num'>{money(ticket.stake)}</td></tr>
{f"<tr><td>Excise</td><td class='num'>{money(ticket.excise)}</td></tr>" if ticket.excise else ""}
<tr><td>Potential payout</td><td class='num'>{money(ticket.payout)}</td></tr>
<tr><td>Withholding tax</td><td class='num'>{money(ticket.tax)}</td></tr>
<tr class='big'><td>Net payout</td><td class='num'>{money(ticket.net_payout)}</td></tr>
</table>
{not_valid}
{f"<p class='cancel'>cancellable until {cancellable_until.astimezone(zone):%H:%M}</p>" if cancellable_until else ""}
</div></body></html>"""
