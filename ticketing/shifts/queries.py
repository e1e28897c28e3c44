"""A till's shift and its cash operations, in SQL: the open shift of a till, a cash operation recorded in it, and
its totals per kind. The sale records its stakes in the same table in its own batch statement
(`ticketing/selling/queries.py`, `record_stakes`)."""

from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from ticketing.contract.errors import DrawerShort, NoOpenShift
from ticketing.contract.money import format_money, from_cents
from ticketing.storage import cash_operations, shifts


def open_shift_of(conn: Connection, operator: str, till: str, lock: bool = False):
    """`lock`: until the commit (PostgreSQL; SQLite's writer lock holds it anyway), so that a shift's closing and a
    cash operation in it take turns: a payout made while the shift closed landed in it after its cash was counted."""
    query = select(shifts).where(shifts.c.operator == operator, shifts.c.till == till, shifts.c.closed_at.is_(None))
    return conn.execute(query.with_for_update() if lock else query).first()


def required_open_shift(conn: Connection, operator: str, till: str):
    """The till's open shift, locked: money handed over the counter always goes into one."""
    shift = open_shift_of(conn, operator, till, lock=True)
    if shift is None:
        raise NoOpenShift(f"Till {till} has no open shift: open one with the cash float first")
    return shift


def stake_taken_in_cash(conn: Connection, ticket_id: str, operator: str, till: str, sold_at: datetime) -> bool:
    """Whether the ticket's stake came into its till's drawer: a stake of one of the till's shifts still open when
    it was sold. A channel's sale on a shop's account with no shift open (the Betstack key's `sms` sale, as the
    spec's sample) took its stake from the account alone, so giving it back is not the drawer's to do. The till's
    shifts closed before the sale are left out: cash operations are indexed by shift, not by ticket, so this reads
    the operations of a shift or two instead of the till's whole history."""
    shifts_open_at_the_sale = select(shifts.c.id).where(
        shifts.c.operator == operator,
        shifts.c.till == till,
        (shifts.c.closed_at.is_(None)) | (shifts.c.closed_at >= sold_at),
    )
    query = select(cash_operations.c.id).where(
        cash_operations.c.shift_id.in_(shifts_open_at_the_sale),
        cash_operations.c.ticket_id == ticket_id,
        cash_operations.c.kind == "stake",
    )
    return conn.execute(query.limit(1)).first() is not None


def drawer_cents(conn: Connection, shift) -> int:
    """What the shift's drawer holds by its count: the float plus every cash operation's signed amount."""
    return shift.float_cents + sum(total for _count, total in cash_totals(conn, shift.id).values())


def pay_from_the_drawer(
    conn: Connection, shift, kind: str, ticket_id: str, cents: int, at: datetime, currency: str
) -> None:
    """Cash handed over the counter out of the shift (locked: `required_open_shift`), refused when the drawer does
    not hold it by the shift's count: a payout the drawer cannot make left the shift's expected cash below zero, a
    count no drawer can show, and the till could never balance (found by a review in the browser)."""
    holds = drawer_cents(conn, shift)
    if cents > holds:
        raise DrawerShort(
            f"Till {shift.till}'s drawer holds {format_money(from_cents(holds), currency)} by its shift's count: paying"
            f" {format_money(from_cents(cents), currency)} needs more cash. Add cash from the safe to the shift first",
            holds=from_cents(holds),
        )
    record_cash(conn, shift.id, kind, ticket_id, -cents, at)


def record_cash(conn: Connection, shift_id: int, kind: str, ticket_id: str | None, cents: int, at: datetime) -> None:
    conn.execute(
        insert(cash_operations).values(shift_id=shift_id, kind=kind, ticket_id=ticket_id, amount_cents=cents, at=at)
    )


def cash_totals(conn: Connection, shift_id: int) -> dict[str, tuple[int, int]]:
    """Per kind of cash operation: how many and the signed sum in cents."""
    query = (
        select(cash_operations.c.kind, func.count(), func.coalesce(func.sum(cash_operations.c.amount_cents), 0))
        .where(cash_operations.c.shift_id == shift_id)
        .group_by(cash_operations.c.kind)
    )
    return {kind: (count, int(total)) for kind, count, total in conn.execute(query)}
