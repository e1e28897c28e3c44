"""Ticket codes: six characters of the read-aloud alphabet, every character as likely in every place. Ticket ids:
24-hex ObjectIds that sort in the order a process made them, none telling the next."""

import itertools
import re
from datetime import UTC, datetime

from ticketing.contract import identifiers
from ticketing.contract.identifiers import CODE_ALPHABET, CODE_LENGTH, new_ticket_code, new_ticket_id


def test_ticket_codes_draw_every_character_of_the_alphabet_in_every_place():
    codes = [new_ticket_code() for _ in range(5000)]
    assert all(len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET) for code in codes)
    for place in range(CODE_LENGTH):
        # 5,000 draws miss one of 23 characters in a place with a probability of about 1e-94.
        assert {code[place] for code in codes} == set(CODE_ALPHABET), place


def test_ticket_ids_made_in_one_second_sort_in_the_order_made_and_none_tells_the_next(monkeypatch):
    """In order: a batch's tickets and picks go to one place of their indexes (README "Performance"). The counter's
    start is set here: drawn at random, it may wrap within a test's thousand ids."""
    monkeypatch.setattr(identifiers, "_SEQUENCE", itertools.count(0xFFFFFF - 2000))
    second = datetime(2026, 11, 26, 18, 0, 0, 123456, tzinfo=UTC)
    ids = [new_ticket_id(second) for _ in range(1000)]
    assert all(re.fullmatch(r"[0-9a-f]{24}", ticket_id) for ticket_id in ids)
    assert {ticket_id[:8] for ticket_id in ids} == {f"{int(second.timestamp()):08x}"}
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert len({ticket_id[14:] for ticket_id in ids}) == len(ids), "the last 5 bytes are drawn for each id"
