"""The printed receipt: its QR code's printed size and quiet zone, its Code 128 barcode, and what it must say."""

import re
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import segno

from terminal_ui.barcode import PATTERNS, QUIET_ZONE, START_B, STOP, code128_modules, code128_svg, code128_values
from terminal_ui.receipt import QR_QUIET_MODULES, receipt_html
from tests.support import SITE_TILL, sample_request
from ticketing.contract.identifiers import CODE_ALPHABET
from ticketing.contract.models import TicketStatus

PUBLISHED_BITS = {
    0: "11011001100",
    1: "11001101100",
    2: "11001100110",
    3: "10010011000",
    4: "10010001100",
    START_B: "11010010000",
    STOP: "1100011101011",
}
"""Symbols as the standard's table draws them (bar = 1), to check ours against."""


def test_every_code128_symbol_is_three_bars_and_three_spaces_over_eleven_modules():
    assert len(PATTERNS) == 107 and len(set(PATTERNS)) == 107
    for value, pattern in enumerate(PATTERNS):
        assert sum(int(width) for width in pattern) == (13 if value == STOP else 11)
        assert len(pattern) == (7 if value == STOP else 6)
    for value, bits in PUBLISHED_BITS.items():
        drawn = "".join(("1" if i % 2 == 0 else "0") * int(w) for i, w in enumerate(PATTERNS[value]))
        assert drawn == bits


def decode_code128(modules: str) -> list[int]:
    """A reader's view: cut the modules into symbols and look each one up."""
    by_bits = {
        "".join(("1" if i % 2 == 0 else "0") * int(w) for i, w in enumerate(p)): value
        for value, p in enumerate(PATTERNS)
    }
    values, at = [], 0
    while at < len(modules):
        size = 13 if modules[at:].startswith(PUBLISHED_BITS[STOP]) and at + 13 == len(modules) else 11
        values.append(by_bits[modules[at : at + size]])
        at += size
    return values


def test_a_ticket_code_as_code128_reads_back_with_a_valid_check_character():
    code = CODE_ALPHABET[:6]
    values = decode_code128(code128_modules(code))
    assert values[0] == START_B and values[-1] == STOP
    data, check = values[1:-2], values[-2]
    assert "".join(chr(v + 32) for v in data) == code
    assert check == (START_B + sum(i * v for i, v in enumerate(data, start=1))) % 103
    assert values == code128_values(code)


def test_the_barcode_has_its_quiet_zones():
    svg = code128_svg("K3MPTA")
    width = int(re.search(r"viewBox='0 0 (\d+) ", svg).group(1))
    assert width == len(code128_modules("K3MPTA")) + 2 * QUIET_ZONE
    first_bar = int(re.search(r"M(\d+) 0h", svg).group(1))
    assert first_bar == QUIET_ZONE >= 10


def a_ticket(shop):
    return shop.create_ticket(SITE_TILL, sample_request(source="retail", stake=D("25")))


def test_the_receipt_qr_prints_at_least_25_mm_with_a_4_module_quiet_zone(shop):
    ticket = a_ticket(shop)
    html = receipt_html(ticket, shop.get_coupon(SITE_TILL, "455"), "Africa/Nairobi", "Shop", "Terms")
    svg = re.search(r"<div class='qr'>(<svg.*?</svg>)</div>", html).group(1)
    printed_mm = float(re.search(r"width:([\d.]+)mm", svg).group(1))
    viewbox = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))
    qr = segno.make_qr(ticket.code, error="m")
    symbol = qr.symbol_size(scale=1, border=0)[0]
    assert not qr.is_micro
    assert viewbox == symbol + 2 * QR_QUIET_MODULES == symbol + 8
    assert printed_mm * symbol / viewbox >= 25


def test_the_receipt_names_the_shop_the_terms_every_kickoff_and_the_barcode(shop):
    ticket = a_ticket(shop)
    coupon = shop.get_coupon(SITE_TILL, "455")
    html = receipt_html(ticket, coupon, "Africa/Nairobi", "Kilimani <Bets>", "Valid 30 days & 18+ only")
    assert "Kilimani &lt;Bets&gt;" in html and "Valid 30 days &amp; 18+ only" in html
    for event in coupon.events:
        assert f"{event.kickoff.astimezone(ZoneInfo('Africa/Nairobi')):%a %d %b %H:%M}" in html
    assert f"aria-label='Code 128 barcode of {ticket.code}'" in html


def test_a_cancelled_tickets_receipt_says_it_is_not_valid_above_its_code_and_under_its_totals(shop):
    """A reprint of a refunded ticket read like a live one (the desk's Reprint, the receipt screen after Cancel)."""
    ticket = a_ticket(shop)
    coupon = shop.get_coupon(SITE_TILL, "455")
    assert "NOT VALID" not in receipt_html(ticket, coupon, "Africa/Nairobi")
    cancelled = ticket.model_copy(update={"status": TicketStatus.CANCELLED})
    html = receipt_html(cancelled, coupon, "Africa/Nairobi", copy=True)
    assert html.count("CANCELLED – NOT VALID") == 2
    assert html.index("CANCELLED – NOT VALID") < html.index(f"<div class='code'>{ticket.code}</div>")
