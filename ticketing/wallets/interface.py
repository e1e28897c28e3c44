"""The one interface the sale, settlement, cancellation and refund paths talk to, whichever wallet holds the money.

Each method runs inside the transaction of the change it follows, so the money (or the message that will move it)
commits with the change or not at all:

- `take_stake`: in the sale's transaction, and it is the sale's first write: a refusal is raised before anything
  is written (group commit relies on it).
- `settling`: in a settlement's transaction, before the coupon's tickets are settled: a sale the wallet never
  confirmed is dropped rather than settled.
- `settled`: in a settlement's transaction, after the coupon's tickets were settled at `now`: pay what each of this
  wallet's tickets is owed. Set-based: one statement for all of the coupon's tickets, however many.
- `rolled_back`: in a correction's transaction, before the settled tickets are reopened: take back what the
  settlement paid.
- `refunded`: a cancelled ticket's stake goes back to its player.

A ticket remembers the wallet it was sold through (`tickets.wallet`): an operator that changes its wallet keeps
settling its earlier tickets where their money is. Payouts at the counter never reach a wallet: they are cash
paid for a shop's ticket, and a shop's account is always internal.
"""

from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection

from ticketing.models import Ticket
from ticketing.storage import AccountHolder, Operator

INTERNAL, PAM = "internal", "pam"


class Wallet(Protocol):
    kind: str

    def take_stake(self, conn: Connection, holder: AccountHolder, ticket: Ticket) -> None: ...

    def settling(self, conn: Connection, coupon_id: str, now: datetime, operator: Operator) -> None: ...

    def settled(self, conn: Connection, coupon_id: str, now: datetime, operator: Operator) -> None: ...

    def rolled_back(self, conn: Connection, coupon_id: str, now: datetime, operator: Operator) -> None: ...

    def refunded(
        self, conn: Connection, ticket: Ticket, token_sha256: str, reason: str, now: datetime, operator: Operator
    ) -> None: ...


class Wallets:
    """The engine's wallets by kind; a coupon's settlement and corrections go to each (each touches its own
    tickets only)."""

    def __init__(self, *wallets: Wallet):
        self._by_kind = {wallet.kind: wallet for wallet in wallets}

    def __getitem__(self, kind: str) -> Wallet:
        return self._by_kind[kind]

    def settling(self, conn: Connection, coupon_id: str, now: datetime, operator: Operator) -> None:
        for wallet in self._by_kind.values():
            wallet.settling(conn, coupon_id, now, operator)

    def settled(self, conn: Connection, coupon_id: str, now: datetime, operator: Operator) -> None:
        for wallet in self._by_kind.values():
            wallet.settled(conn, coupon_id, now, operator)

    def rolled_back(self, conn: Connection, coupon_id: str, now: datetime, operator: Operator) -> None:
        for wallet in self._by_kind.values():
            wallet.rolled_back(conn, coupon_id, now, operator)
