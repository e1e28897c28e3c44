"""Ticket codes: six characters of the read-aloud alphabet, every character as likely in every place."""

from ticketing.contract.identifiers import CODE_ALPHABET, CODE_LENGTH, new_ticket_code


def test_ticket_codes_draw_every_character_of_the_alphabet_in_every_place():
    codes = [new_ticket_code() for _ in range(5000)]
    assert all(len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET) for code in codes)
    for place in range(CODE_LENGTH):
        # 5,000 draws miss one of 23 characters in a place with a probability of about 1e-94.
        assert {code[place] for code in codes} == set(CODE_ALPHABET), place
