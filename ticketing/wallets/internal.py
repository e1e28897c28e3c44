"""The engine's own accounts (`accounts`): the default wallet, and always a shop's.

A batch of sales reads its accounts' balances once (locked until its commit), takes each stake in order against
what the earlier ones left and writes one conditional UPDATE an account (only if the balance covers it), so two
tills selling on one account at once can never overdraw it (`TicketEngine._debit_and_write`, `SaleStatements.write`);
a player's winnings and refunds are credited in the settlement's own transaction, with one statement for the whole
coupon.
"""

from datetime import datetime

from sqlalchemy import Connection, update

from ticketing.contract.errors import InsufficientBalance
from ticketing.contract.models import Ticket
from ticketing.contract.money import to_cents
from ticketing.settlement import queries
from ticketing.storage import AccountHolder, Operator, accounts
from ticketing.wallets.interface import INTERNAL, Stakes


class InternalWallet:
    kind = INTERNAL

    def take_stake(self, stakes: Stakes, holder: AccountHolder, ticket: Ticket) -> None:
        token, cents = holder.token_sha256, to_cents(ticket.stake)
        balance = stakes.balances.get(token, 0)
        if balance < cents:
            raise InsufficientBalance()
        stakes.balances[token] = balance - cents
        stakes.debits[token] = stakes.debits.get(token, 0) + cents

    def settling(self, conn: Connection, coupon_id: str, now: datetime, operator: Operator) -> None:
        """A sale here is confirmed when it commits: nothing is left to drop."""

    def settled(self, conn: Connection, coupon_id: str, now: datetime, operator: Operator) -> None:
        queries.credit_players(conn, coupon_id, now)

    def rolled_back(self, conn: Connection, coupon_id: str, now: datetime, operator: Operator) -> None:
        queries.reverse_credits(conn, coupon_id)

    def refunded(
        self, conn: Connection, ticket: Ticket, token_sha256: str, reason: str, now: datetime, operator: Operator
    ) -> None:
        conn.execute(
            update(accounts)
            .where(accounts.c.token_sha256 == token_sha256)
            .values(balance_cents=accounts.c.balance_cents + to_cents(ticket.stake))
        )
