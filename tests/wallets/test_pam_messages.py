"""The PAM calls are the bytes Betstack sends: the published vector, every action's fields in order, nulls, cents."""

from decimal import Decimal as D

import pytest

from ticketing.contract import wire
from ticketing.selling.pricing import TaxProfile
from ticketing.wallets.pam import PAM_FIELDS, PamTicket, message_data, pam_body, pam_signature, percent

PUBLISHED_BODY = (
    b'{"action":"ticket_create","data":{"operator":"acme","ticket_id":"668ef666333180bba97f0c93",'
    b'"ticket_code":"CD4BDD","player_id":"sometokenvalue","price":500,"stake":444,"wht_amount":240,"wht":10,'
    b'"ext_amount":56,"ext":12.5,"ext_type":"inclusive","gross_payout":2842,"net_payout":2602,"currency":"USD",'
    b'"atag":"atag_value","rtag":null,"ticket_type":"quickbet"}}'
)
PUBLISHED_SIGNATURE = "3fe37f41ba6dc960fd2a7098bd4643f971ff1408a31bcea9f3ef8d03b3ba2d0a"
PUBLISHED_TICKET = PamTicket(
    ticket_id="668ef666333180bba97f0c93",
    code="CD4BDD",
    player_id="sometokenvalue",
    price=500,
    stake=444,
    wht_amount=240,
    ext_amount=56,
    gross_payout=2842,
    net_payout=2602,
    currency="USD",
    atag="atag_value",
    ticket_type="quickbet",
)
PUBLISHED_TAXES = TaxProfile(excise_rate=D("0.125"), withholding_rate=D("0.10"))


def test_the_published_ticket_create_vector_is_built_and_signed_byte_for_byte():
    body = pam_body("ticket_create", message_data("ticket_create", PUBLISHED_TICKET.data("acme", PUBLISHED_TAXES)))
    assert body == PUBLISHED_BODY
    assert pam_signature("12345ABCDE", 1706191612, body) == PUBLISHED_SIGNATURE


def test_every_action_sends_each_documented_field_in_order_and_absent_optionals_as_null():
    data = PUBLISHED_TICKET.data("acme", PUBLISHED_TAXES, atag=None, reason="results corrected")
    for action, fields in PAM_FIELDS.items():
        if action == "identify":
            continue
        sent = wire.loads(pam_body(action, message_data(action, data)))
        assert list(sent) == ["action", "data"] and sent["action"] == action
        assert list(sent["data"]) == list(fields), action
    create = wire.loads(pam_body("ticket_create", message_data("ticket_create", data)))
    assert create["data"]["atag"] is None and create["data"]["rtag"] is None
    update = wire.loads(pam_body("ticket_update", message_data("ticket_update", data)))
    assert list(update["data"])[-1] == "psp" and update["data"]["psp"] is None


def test_a_field_the_action_does_not_have_is_refused_not_sent():
    with pytest.raises(ValueError, match="amount"):
        pam_body("ticket_win", {"operator": "acme", "ticket_id": "x", "amount": 5})


def test_rates_are_percent_numbers_and_amounts_whole_cents():
    assert (percent(D("0.125")), percent(D("0.20")), percent(D("0")), percent(D("0.1575"))) == (
        D("12.5"),
        20,
        0,
        D("15.75"),
    )
    body = pam_body("ticket_create", message_data("ticket_create", PUBLISHED_TICKET.data("acme", TaxProfile())))
    assert b'"wht":20,' in body and b'"ext":0,' in body and b'"price":500,' in body


def test_a_body_with_spaces_in_a_string_is_signed_without_them_as_betstack_signs():
    body = pam_body("ticket_discard", {"operator": "acme", "ticket_id": "t1", "reason": "wallet timed out"})
    assert b"wallet timed out" in body
    assert pam_signature("k", 1, body) == pam_signature("k", 1, body.replace(b" ", b""))
