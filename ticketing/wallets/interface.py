"""The one interface the sale, settlement, cancellation and refund paths talk to, whichever wallet holds the money.

Each method runs inside the transaction of the change it follows, so the money (or the message that will move it)
commits with the change or not at all:

- `take_stake`: in the transaction of a batch of sales (`TicketEngine._sell_batch`), each sale's stake in order,
  before the batch writes anything: a refusal is raised for that sale alone and the batch's writes leave it out
  (group commit relies on it). The internal wallet checks the stake against the `Stakes` the batch read and adds it
  to the account's debit, written with the batch's tickets by one guarded UPDATE an account.
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

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection

from ticketing.contract.models import Ticket
from ticketing.storage import AccountHolder, Operator

INTERNAL, PAM = "internal", "pam"


@dataclass
class Stakes:
    """A batch of sales' stakes as the internal wallet takes them: `balances` in cents are its accounts' as the
    batch's transaction read them (locked until its commit) less the stakes taken so far; `debits` the total taken
    from each account."""

    balances: dict[str, int]
    debits: dict[str, int] = field(default_factory=dict)


class Wallet(Protocol):
    kind: str

    def take_stake(self, stakes: Stakes, holder: AccountHolder, ticket: Ticket) -> None: ...

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
