"""The roles a credential can have and what each may do: pure rules, no I/O.

An operator's tills sell with a key that is on every shop's network; the same key must not move odds, publish
coupons or enter results, or a till could price its own ticket. So each credential has exactly one role, and the
engine checks the role of the `Actor` on every call, in-process as well as over HTTP.
"""

from dataclasses import dataclass
from enum import StrEnum

from ticketing.contract.errors import NotAllowed


class Role(StrEnum):
    TILL = "till"
    FEED = "feed"
    ADMIN = "admin"


class Permission(StrEnum):
    SELL = "sell"
    READ_TICKETS = "read tickets"
    PAY_OUT = "pay out"
    CANCEL_TICKETS = "cancel tickets"
    READ_COUPONS = "read coupons"
    READ_OPERATOR = "read the operator's profile"
    UPDATE_EVENTS = "set odds and event status"
    PUBLISH_COUPONS = "publish, change and close coupons"
    ENTER_RESULTS = "enter results"
    RUN_SHIFT = "open and close a till's shift"
    READ_SHIFTS = "read shifts"
    MANAGE_CREDENTIALS = "manage credentials"
    OPERATE_WALLET = "see, retry and reconcile the wallet's messages"


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.TILL: frozenset(
        {
            Permission.SELL,
            Permission.READ_TICKETS,
            Permission.PAY_OUT,
            Permission.CANCEL_TICKETS,
            Permission.READ_COUPONS,
            Permission.READ_OPERATOR,
            Permission.RUN_SHIFT,
            Permission.READ_SHIFTS,
        }
    ),
    Role.FEED: frozenset({Permission.UPDATE_EVENTS, Permission.READ_COUPONS, Permission.READ_OPERATOR}),
    Role.ADMIN: frozenset(
        {
            Permission.PUBLISH_COUPONS,
            Permission.UPDATE_EVENTS,
            Permission.ENTER_RESULTS,
            Permission.MANAGE_CREDENTIALS,
            Permission.OPERATE_WALLET,
            Permission.READ_COUPONS,
            Permission.READ_OPERATOR,
            Permission.READ_SHIFTS,
        }
    ),
}
"""An admin changes coupons (so also their events) but does not sell or read tickets: selling is a till's job,
and a credential that can do everything is the one worth stealing."""


@dataclass(frozen=True)
class Actor:
    """Who is calling: an operator's credential. `key_id` None is the operator's Betstack key (a till)."""

    operator: str
    role: Role
    key_id: str | None = None

    def may(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        """Raise `NotAllowed` (403) unless this actor's role may do it."""
        if not self.may(permission):
            article = "An" if self.role.value[0] in "aeiou" else "A"
            raise NotAllowed(f"{article} {self.role.value} credential may not {permission.value}")

    @property
    def till(self) -> str:
        """The till a till credential is: its key id, or the operator's name for the operator's Betstack key. Cash
        taken and paid out is recorded against it, and only it may cancel the tickets it sold."""
        return self.key_id or self.operator

    @property
    def credential(self) -> str:
        """How the credential is named in messages and on screen (never its secret)."""
        return self.key_id or f"{self.operator}'s Betstack key"
