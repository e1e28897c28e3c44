"""The printed receipt: markup built here with every value escaped, shown and printed in the page itself.

No iframe: the receipt is a Streamlit v2 component mounted in the page's own document, so its Print button (and
Alt+P) prints it with the page's print stylesheet (everything else hidden on paper), and the keyboard focus never
leaves the page: Alt+N still starts the next ticket after printing.
"""

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

import segno
import streamlit as st

from terminal_ui.barcode import code128_svg
from ticketing.contract.models import Coupon, Ticket, TicketStatus
from ticketing.contract.money import format_money

QR_SYMBOL_MM = 26
"""The QR symbol's printed width without its quiet zone: 25 mm at least, for a phone or a shop scanner."""
QR_QUIET_MODULES = 4
"""The QR standard's quiet zone."""

RECEIPT_CSS = """
.jp-receipt { font-family: 'DejaVu Sans Mono', 'Courier New', monospace; color: #111; background: #fff;
  width: 72mm; box-sizing: border-box; margin: 0 auto; padding: 4mm; border: 1px dashed #999; font-size: 11px; }
.jp-receipt .shop { text-align: center; font-weight: bold; font-size: 14px; }
.jp-receipt .title { text-align: center; font-size: 12px; margin-bottom: 2mm; }
.jp-receipt .copy { text-align: center; font-weight: bold; border: 2px solid #111; margin: 2mm 0; padding: 1mm; }
.jp-receipt .code { font-size: 28px; font-weight: bold; letter-spacing: 4px; text-align: center; margin: 1mm 0; }
.jp-receipt .qr svg { display: block; margin: 0 auto; }
.jp-receipt .bar svg { display: block; margin: 1mm auto 0; width: 60mm; height: 12mm; }
.jp-receipt .row { display: flex; justify-content: space-between; gap: 2mm; }
.jp-receipt .row > :last-child { text-align: right; white-space: nowrap; }
.jp-receipt .row > :first-child { min-width: 0; overflow-wrap: anywhere; }
.jp-receipt .meta, .jp-receipt .totals { margin: 2mm 0; }
.jp-receipt .pick { border-top: 1px dotted #bbb; padding: 1mm 0; }
.jp-receipt .fixture { overflow-wrap: anywhere; }
.jp-receipt .big { font-size: 13px; font-weight: bold; }
.jp-receipt .terms { border-top: 1px solid #111; margin-top: 2mm; padding-top: 1mm; font-size: 9px;
  text-align: center; }
.jp-receipt .meta .row > :first-child { flex: none; }
.jp-receipt .meta .row > :last-child { white-space: normal; min-width: 0; overflow-wrap: anywhere; }
.jp-receipt .test { text-align: center; font-size: 26px; font-weight: bold; color: #b00020; border: 4px solid #b00020;
  margin: 2mm 0; padding: 2mm 1mm; line-height: 1.15; }
.jp-receipt .cancel { text-align: center; margin: 2mm 0 0; }
.jp-receipt-actions { text-align: center; margin: 0 0 3mm; }
.jp-receipt-actions button { font-size: 15px; padding: 6px 18px; cursor: pointer; }
@media print {
  /* Only the receipt and the boxes that hold it are laid out, in the page's flow: a receipt fixed to the page's top
     (everything else merely invisible) printed its first page alone, and a 17-event ticket lost its last events. */
  body *:not(:has(.jp-receipt)):not(.jp-receipt):not(.jp-receipt *) { display: none !important; }
  body *:has(.jp-receipt) { position: static !important; overflow: visible !important; height: auto !important;
    min-height: 0 !important; max-height: none !important; margin: 0 !important; padding: 0 !important;
    border: none !important; transform: none !important; box-shadow: none !important; }
  .jp-receipt { margin: 0; border: none; }
  /* A reprint's dialog over the receipt screen: its copy is the one to print, not both one after the other. */
  body:has([role="dialog"] .jp-receipt) .jp-receipt:not([role="dialog"] .jp-receipt) { display: none !important; }
  .jp-receipt .pick, .jp-receipt .row { break-inside: avoid; }
  .jp-receipt-actions { display: none; }
  @page { margin: 0; }
}
"""

RECEIPT_JS = """
export default function ({ data, parentElement }) {
  const slot = parentElement.querySelector('.jp-receipt-slot');
  slot.innerHTML = data.html;
  const button = slot.querySelector('.jp-print');
  if (button) button.onclick = () => window.print();
}
"""

_receipt_component = st.components.v2.component(
    "jackpot_receipt",
    html="<div class='jp-receipt-slot'></div>",
    css=RECEIPT_CSS,
    js=RECEIPT_JS,
    isolate_styles=False,
)


TEST_MARK = "TEST – NOT VALID"
CANCELLED_MARK = "CANCELLED – NOT VALID"


def qr_svg(code: str) -> str:
    """A regular QR code (never Micro QR, which many readers skip) with its 4-module quiet zone, printed so that
    the symbol itself is QR_SYMBOL_MM wide."""
    qr = segno.make_qr(code, error="m")
    modules = qr.symbol_size(scale=1, border=0)[0]
    width_mm = QR_SYMBOL_MM * (modules + 2 * QR_QUIET_MODULES) / modules
    svg = qr.svg_inline(scale=1, border=QR_QUIET_MODULES, omitsize=True)
    return svg.replace("<svg ", f"<svg style='width:{width_mm:.1f}mm;height:{width_mm:.1f}mm' ", 1)


def receipt_html(
    ticket: Ticket,
    coupon: Coupon | None,
    timezone: str,
    shop_name: str = "",
    terms: str = "",
    copy: bool = False,
    printable: bool = False,
    cancellable_until: datetime | None = None,
) -> str:
    """The receipt's markup; with `printable`, a Print button above it (hidden on paper). With `cancellable_until`
    (while the till may still take the ticket back), that time in the terminal's zone. A coupon sandbox's test ticket
    says `TEST – NOT VALID` in large letters above its code and again under its totals, a cancelled ticket
    `CANCELLED – NOT VALID`."""
    zone = ZoneInfo(timezone)
    sold_at: datetime = ticket.created.astimezone(zone)
    events = {e.id: e for e in coupon.events} if coupon else {}
    rows = []
    for number, pick in enumerate(ticket.events, start=1):
        event = events.get(pick.id)
        fixture = escape(event.fixture) if event else f"Event {pick.id}"
        kickoff = f"{event.kickoff.astimezone(zone):%a %d %b %H:%M}" if event else ""
        rows.append(
            f"<div class='pick'><div class='fixture'>{number}. {fixture}</div>"
            f"<div class='row'><span>{kickoff}</span><span><b>{escape(pick.pick)}</b> @ {pick.odds:.2f}</span></div>"
            "</div>"
        )

    def line(label: str, value: str, css: str = "row") -> str:
        return f"<div class='{css}'><span>{label}</span><span>{value}</span></div>"

    def money(amount) -> str:
        return escape(format_money(amount, ticket.currency))

    totals = [
        line("Total odds", f"{ticket.total_odds:,.2f}"),
        line("Stake paid", money(ticket.stake)),
        line("Excise", money(ticket.excise)) if ticket.excise else "",
        line("Potential payout", money(ticket.payout)),
        line("Withholding tax", money(ticket.tax)),
        line("Net payout", money(ticket.net_payout), "row big"),
    ]
    coupon_name = f" {escape(coupon.name)}" if coupon else ""
    actions = (
        "<div class='jp-receipt-actions'><button class='jp-print' type='button'>Print receipt (Alt+P)</button></div>"
        if printable
        else ""
    )
    # A ticket taken back (its stake refunded) is not a ticket: a reprint of it must never pass for a live one.
    mark = TEST_MARK if ticket.test else CANCELLED_MARK if ticket.status == TicketStatus.CANCELLED else None
    not_valid = f"<div class='test'>{mark}</div>" if mark else ""
    cancel = (
        f"<div class='cancel'>cancellable until {cancellable_until.astimezone(zone):%H:%M}</div>"
        if cancellable_until
        else ""
    )
    return (
        f"{actions}<div class='jp-receipt' data-ticket-code='{escape(ticket.code)}'>"
        f"<div class='shop'>{escape(shop_name)}</div><div class='title'>JACKPOT TICKET</div>"
        f"{'<div class=copy>COPY - REPRINT</div>' if copy else ''}{not_valid}"
        f"<div class='code'>{escape(ticket.code)}</div>"
        f"<div class='qr'>{qr_svg(ticket.code)}</div><div class='bar'>{code128_svg(ticket.code)}</div>"
        "<div class='meta'>"
        + line("Ticket id", escape(ticket.id))
        + line("Sold", f"{sold_at:%Y-%m-%d %H:%M:%S} {escape(sold_at.tzname() or '')}")
        + line("Coupon", f"{escape(ticket.coupon_id)}{coupon_name}")
        + f"</div>{''.join(rows)}<div class='totals'>{''.join(totals)}</div>"
        f"{not_valid}{cancel}<div class='terms'>{escape(terms)}</div></div>"
    )


def show_receipt(html: str, key: str) -> None:
    _receipt_component(key=key, data={"html": html}, height="content")
