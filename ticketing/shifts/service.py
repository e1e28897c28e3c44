"""A till's shift: opened with its cash float, every stake, payout and refund of the till and any cash added from the
safe recorded in it, closed with the cash counted (expected, counted, the difference). Each public method is one
durable transaction (or none, when it refuses); a shift is the calling till's own, found by operator and till."""

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from ticketing.contract.errors import ShiftAlreadyOpen, ShiftNotFound
from ticketing.contract.models import MAX_AMOUNT, CashAddition, CashOperation, Shift, ShiftClosing, ShiftOpening
from ticketing.contract.money import from_cents, to_cents
from ticketing.contract.wire import field_problem, invalid_request
from ticketing.shifts.queries import cash_totals, drawer_cents, open_shift_of, record_cash, required_open_shift
from ticketing.storage import Store, _naive_utc, cash_operations, shifts

CASH_IN = "cash_in"
"""A cash operation putting cash into the drawer from the safe (`add_cash`)."""


def cash_amount(model: type[BaseModel], field: str, value: Decimal) -> Decimal:
    """An amount of cash by the rule the HTTP request's `model` applies (at least 0, exact to the cent, at most 12
    digits before the point), checked here too for callers in the same process: a float of -5,000 once opened a
    shift that no list of shifts could then show."""
    try:
        return getattr(model.model_validate({field: value}), field)
    except ValidationError as problem:
        raise invalid_request([field_problem(error) for error in problem.errors()]) from None


class TillShifts:
    def __init__(self, store: Store, clock: Callable[[], datetime]):
        self.store = store
        self.clock = clock

    def open_shift(self, operator: str, till: str, float_amount: Decimal) -> Shift:
        float_amount = cash_amount(ShiftOpening, "float", float_amount)
        try:
            with self.store.write() as conn:
                if open_shift_of(conn, operator, till) is not None:
                    raise ShiftAlreadyOpen(f"Till {till} already has an open shift: close it first")
                shift_id = conn.execute(
                    shifts.insert().values(
                        operator=operator,
                        till=till,
                        opened_at=_naive_utc(self.clock()),
                        float_cents=to_cents(float_amount),
                    )
                ).inserted_primary_key[0]
        except IntegrityError:
            raise ShiftAlreadyOpen(f"Till {till} already has an open shift: close it first") from None
        return self.shift(operator, shift_id)

    def close_shift(self, operator: str, till: str, counted: Decimal) -> Shift:
        counted = cash_amount(ShiftClosing, "counted", counted)
        with self.store.write() as conn:
            shift = required_open_shift(conn, operator, till)
            expected = drawer_cents(conn, shift)
            conn.execute(
                update(shifts)
                .where(shifts.c.id == shift.id)
                .values(
                    closed_at=_naive_utc(self.clock()),
                    expected_cents=expected,
                    counted_cents=to_cents(counted),
                    difference_cents=to_cents(counted) - expected,
                )
            )
        return self.shift(operator, shift.id)

    def add_cash(self, operator: str, till: str, amount: Decimal) -> Shift:
        """Cash put into the till's drawer from the shop's safe during its shift (a large payout, say): counted in
        the shift as cash in, so the drawer can pay it and the shift still balances."""
        amount = cash_amount(CashAddition, "amount", amount)
        with self.store.write() as conn:
            shift = required_open_shift(conn, operator, till)
            _count, added_cents = cash_totals(conn, shift.id).get(CASH_IN, (0, 0))
            largest = max(drawer_cents(conn, shift), added_cents) + to_cents(amount)
            if largest > to_cents(MAX_AMOUNT):
                # The shift's figures are amounts of at most 14 digits: past them, every read of the shift failed.
                raise invalid_request(
                    [{"field": "amount", "message": f"the shift's cash would pass {MAX_AMOUNT:,.2f}"}]
                )
            record_cash(conn, shift.id, CASH_IN, None, to_cents(amount), _naive_utc(self.clock()))
        return self.shift(operator, shift.id)

    def current_shift(self, operator: str, till: str, operations: bool = True) -> Shift | None:
        """`operations=False`: the figures without the list of cash operations (empty), as `list_shifts` gives them: a
        busy shift's 2,000 operations took ~50 ms to read, and the payout screen shows only when the shift opened."""
        with self.store.read() as conn:
            row = open_shift_of(conn, operator, till)
            return None if row is None else self._shift(conn, row, with_operations=operations)

    def shift(self, operator: str, shift_id: int) -> Shift:
        with self.store.read() as conn:
            row = conn.execute(select(shifts).where(shifts.c.id == shift_id, shifts.c.operator == operator)).first()
            if row is None:
                raise ShiftNotFound(f"Shift {shift_id} not found")
            return self._shift(conn, row)

    def list_shifts(self, operator: str, till: str | None = None, limit: int = 50) -> list[Shift]:
        with self.store.read() as conn:
            query = select(shifts).where(shifts.c.operator == operator)
            if till is not None:
                query = query.where(shifts.c.till == till)
            rows = conn.execute(query.order_by(shifts.c.id.desc()).limit(limit)).all()
            return [self._shift(conn, row, with_operations=False) for row in rows]

    def _shift(self, conn: Connection, row, with_operations: bool = True) -> Shift:
        totals = cash_totals(conn, row.id)

        def total(kind: str) -> tuple[int, Decimal]:
            count, cents = totals.get(kind, (0, 0))
            return count, from_cents(abs(cents))

        stakes_count, stakes = total("stake")
        payouts_count, paid = total("payout")
        refunds_count, refunded = total("refund")
        added_count, added = total(CASH_IN)
        expected = (
            from_cents(row.expected_cents)
            if row.expected_cents is not None
            else from_cents(row.float_cents + sum(cents for _count, cents in totals.values()))
        )
        operations = []
        if with_operations:
            query = select(cash_operations).where(cash_operations.c.shift_id == row.id).order_by(cash_operations.c.id)
            operations = [
                CashOperation(kind=op.kind, ticket_id=op.ticket_id, amount=from_cents(op.amount_cents), at=op.at)
                for op in conn.execute(query)
            ]
        return Shift(
            id=row.id,
            operator=row.operator,
            till=row.till,
            opened_at=row.opened_at,
            closed_at=row.closed_at,
            float=from_cents(row.float_cents),
            stakes=stakes,
            stakes_count=stakes_count,
            payouts=paid,
            payouts_count=payouts_count,
            refunds=refunded,
            refunds_count=refunds_count,
            cash_added=added,
            cash_added_count=added_count,
            expected=expected,
            counted=None if row.counted_cents is None else from_cents(row.counted_cents),
            difference=None if row.difference_cents is None else from_cents(row.difference_cents),
            operations=operations,
        )
