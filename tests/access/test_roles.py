"""The roles, as pure rules: what each may do."""

import pytest

from ticketing.access.roles import PERMISSIONS, Actor, Permission, Role
from ticketing.contract.errors import NotAllowed

TILL, FEED, ADMIN = Actor("site", Role.TILL), Actor("site", Role.FEED, "f"), Actor("site", Role.ADMIN, "a")


def test_a_till_cannot_move_odds_publish_coupons_or_enter_results():
    for permission in (Permission.UPDATE_EVENTS, Permission.PUBLISH_COUPONS, Permission.ENTER_RESULTS):
        assert not TILL.may(permission)
        with pytest.raises(NotAllowed, match="A till credential may not"):
            TILL.require(permission)


@pytest.mark.parametrize(
    "actor, allowed",
    [
        (
            TILL,
            {
                "sell",
                "read tickets",
                "pay out",
                "cancel tickets",
                "read coupons",
                "read the operator's profile",
                "open and close a till's shift",
                "read shifts",
            },
        ),
        (FEED, {"set odds and event status", "read coupons", "read the operator's profile"}),
        (
            ADMIN,
            {
                "publish, change and close coupons",
                "set odds and event status",
                "enter results",
                "manage credentials",
                "see, retry and reconcile the wallet's messages",
                "read coupons",
                "read the operator's profile",
                "read shifts",
            },
        ),
    ],
)
def test_each_role_may_do_exactly_its_own_jobs(actor, allowed):
    assert {p.value for p in Permission if actor.may(p)} == allowed


def test_only_a_till_sells_and_only_an_admin_publishes_or_manages_credentials():
    assert [role for role in Role if Permission.SELL in PERMISSIONS[role]] == [Role.TILL]
    for permission in (Permission.PUBLISH_COUPONS, Permission.ENTER_RESULTS, Permission.MANAGE_CREDENTIALS):
        assert [role for role in Role if permission in PERMISSIONS[role]] == [Role.ADMIN]


def test_a_credential_is_named_by_its_key_id_never_its_secret():
    assert TILL.credential == "site's Betstack key" and ADMIN.credential == "a"
