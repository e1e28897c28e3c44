"""The SQL of a ticket's life after the sale, for SQLite and PostgreSQL alike.

Settlement is set-based: one statement classifies every unsettled ticket of a coupon from its picks and the
event results (void, won, a bonus tier, lost) and writes its settled amounts, one marks the tickets resulted, one
credits every player account with the sum owed to it. Python only prices the rare full winners that carry a void
event (their payout is recomputed at odds 1.00 for the void legs, with the engine's own `price_ticket`).

A ticket sold through an operator's PAM wallet has no account here: it is owed as a player's ticket is (`credited`),
and its wallet pays it (`ticketing.wallets`); a shop's account is always internal.

Amounts are integer cents. A bonus prize's withholding tax is computed in SQL as `price_ticket` computes any tax,
half-up to the cent: `(taxable_cents * rate_bp + 5000) / 10000` in integer arithmetic (taxable is positive there).
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, DateTime, and_, bindparam, insert, select, text, update

from ticketing.contract.models import BETS_BY_LABEL, EventResult, TicketEvent, TicketStatus
from ticketing.contract.money import from_cents, to_cents
from ticketing.storage import (
    accounts,
    coupon_rounds,
    event_results,
    payouts,
    ticket_events,
    ticket_settlements,
    tickets,
)

UNSETTLED = (TicketStatus.NEW.value, TicketStatus.OPEN.value)


def _tally(results: dict[int, EventResult]) -> str:
    """Per unsettled ticket of the coupon: its picks, how many are correct (a void event counts) and how many of its
    events are void. The coupon's results are written into the statement (whole numbers only) as a CASE on the
    event id: a lookup of each of a coupon's million picks in `event_results` cost a third of the settlement."""
    winning = " ".join(
        f"WHEN {int(event_id)} THEN {BETS_BY_LABEL[result.value]}"
        for event_id, result in results.items()
        if result != EventResult.VOID
    )
    winning_bet = f"CASE te.event_id {winning} END" if winning else "NULL"
    voids = ", ".join(str(int(event_id)) for event_id, result in results.items() if result == EventResult.VOID)
    is_void = f"te.event_id IN ({voids})" if voids else "1 = 0"
    return f"""
    SELECT te.ticket_id AS ticket_id,
           SUM(CASE WHEN {is_void} THEN 1 ELSE 0 END) AS voids,
           SUM(CASE WHEN {is_void} OR te.bet = {winning_bet} THEN 1 ELSE 0 END) AS correct,
           COUNT(*) AS picks
      FROM tickets t
      JOIN ticket_events te ON te.ticket_id = t.id
     WHERE t.coupon_id = :coupon_id AND t.status IN ('new', 'open')
     GROUP BY te.ticket_id
"""


# The outcome of each tallied ticket, then its amounts; `owed` is credited to a player's account at once. A sandbox's
# test ticket has no account (hence the outer join) and is never credited.
_SETTLE = """
    INSERT INTO ticket_settlements (ticket_id, coupon_id, result, correct, voids, prize_tier, payout_cents,
                                    tax_cents, net_payout_cents, refund_cents, credited_cents, settled_at)
    SELECT o.ticket_id, :coupon_id, o.result, o.correct, o.voids, o.prize_tier, o.payout_cents, o.tax_cents,
           o.payout_cents - o.tax_cents, o.refund_cents,
           CASE WHEN o.account_kind = 'player' AND NOT o.test
                THEN CASE WHEN o.result = 'void' THEN o.refund_cents ELSE o.payout_cents - o.tax_cents END
                ELSE 0 END,
           :now
      FROM (
        SELECT a.ticket_id, a.correct, a.voids, t.test,
               CASE WHEN t.wallet = 'internal' THEN acct.kind ELSE 'player' END AS account_kind,
               CASE WHEN a.voids = a.picks OR a.voids > :max_void_events THEN 'void'
                    WHEN a.correct = a.picks OR bp.amount_cents IS NOT NULL THEN 'won'
                    ELSE 'lost' END AS result,
               CASE WHEN a.voids = a.picks OR a.voids > :max_void_events THEN NULL
                    WHEN a.correct = a.picks THEN NULL
                    ELSE bp.correct END AS prize_tier,
               CASE WHEN a.voids = a.picks OR a.voids > :max_void_events THEN 0
                    WHEN a.correct = a.picks THEN t.payout_cents
                    WHEN bp.amount_cents IS NOT NULL THEN bp.amount_cents
                    ELSE 0 END AS payout_cents,
               CASE WHEN a.voids = a.picks OR a.voids > :max_void_events THEN 0
                    WHEN a.correct = a.picks THEN t.tax_cents
                    WHEN bp.amount_cents > t.net_stake_cents
                    THEN ((bp.amount_cents - t.net_stake_cents) * op.withholding_rate_bp + 5000) / 10000
                    ELSE 0 END AS tax_cents,
               CASE WHEN a.voids = a.picks OR a.voids > :max_void_events THEN t.stake_cents
                    ELSE 0 END AS refund_cents
          FROM ({tally}) a
          JOIN tickets t ON t.id = a.ticket_id
          JOIN operators op ON op.name = t.operator
          LEFT JOIN accounts acct ON acct.token_sha256 = t.token_sha256
          LEFT JOIN bonus_prizes bp ON bp.coupon_id = :coupon_id AND bp.correct = a.correct
      ) o
"""

# A cancelled coupon voids every unsettled ticket, results or not.
VOID_COUPON = text("""
    INSERT INTO ticket_settlements (ticket_id, coupon_id, result, correct, voids, prize_tier, payout_cents,
                                    tax_cents, net_payout_cents, refund_cents, credited_cents, settled_at)
    SELECT t.id, t.coupon_id, 'void', 0, 0, NULL, 0, 0, 0, t.stake_cents,
           CASE WHEN (acct.kind = 'player' OR t.wallet <> 'internal') AND NOT t.test THEN t.stake_cents ELSE 0 END,
           :now
      FROM tickets t LEFT JOIN accounts acct ON acct.token_sha256 = t.token_sha256
     WHERE t.coupon_id = :coupon_id AND t.status IN ('new', 'open')
""").bindparams(bindparam("now", type_=DateTime))

MARK_RESULTED = text("""
    UPDATE tickets SET status = 'resulted', result = s.result, updated = :now
      FROM ticket_settlements s
     WHERE s.ticket_id = tickets.id AND tickets.coupon_id = :coupon_id AND tickets.status IN ('new', 'open')
""").bindparams(bindparam("now", type_=DateTime))

CREDIT_PLAYERS = text("""
    UPDATE accounts SET balance_cents = accounts.balance_cents + c.total
      FROM (SELECT t.token_sha256, SUM(s.credited_cents) AS total
              FROM ticket_settlements s JOIN tickets t ON t.id = s.ticket_id
             WHERE s.coupon_id = :coupon_id AND s.settled_at = :now AND s.credited_cents > 0 AND NOT t.test
               AND t.wallet = 'internal'
             GROUP BY t.token_sha256) c
     WHERE accounts.token_sha256 = c.token_sha256
""").bindparams(bindparam("now", type_=DateTime))

# A correction first takes back what the coupon's settlement credited, exactly.
REVERSE_CREDITS = text("""
    UPDATE accounts SET balance_cents = accounts.balance_cents - c.total
      FROM (SELECT t.token_sha256, SUM(s.credited_cents) AS total
              FROM ticket_settlements s JOIN tickets t ON t.id = s.ticket_id
             WHERE s.coupon_id = :coupon_id AND s.credited_cents > 0 AND t.status = 'resulted' AND NOT t.test
               AND t.wallet = 'internal'
             GROUP BY t.token_sha256) c
     WHERE accounts.token_sha256 = c.token_sha256
""")

REOPEN_TICKETS = text("""
    UPDATE tickets SET status = CASE WHEN wallet = 'internal' THEN 'new' ELSE 'open' END, result = 'pending',
                       updated = :now
     WHERE coupon_id = :coupon_id AND status = 'resulted'
""").bindparams(bindparam("now", type_=DateTime))

FORGET_SETTLEMENTS = text("""
    DELETE FROM ticket_settlements
     WHERE coupon_id = :coupon_id AND ticket_id IN (SELECT id FROM tickets WHERE coupon_id = :coupon_id
                                                     AND status IN ('new', 'open'))
""")

# After a correction: a ticket paid in cash whose settled amount is no longer what was paid is for follow-up.
# Set where the cash paid no longer matches the outcome, cleared where it matches again (a correction undone).
FLAG_PAID_BEFORE_CORRECTION = text("""
    UPDATE payouts SET follow_up = CASE WHEN ticket_id IN (
                           SELECT p.ticket_id
                             FROM payouts p
                             JOIN tickets t ON t.id = p.ticket_id
                             LEFT JOIN ticket_settlements s ON s.ticket_id = p.ticket_id
                            WHERE t.coupon_id = :coupon_id AND t.status = 'resulted'
                              AND (s.ticket_id IS NULL
                                   OR p.amount_cents <> CASE WHEN s.result = 'void' THEN s.refund_cents
                                                             ELSE s.net_payout_cents END))
                         THEN 'paid before correction' END
     WHERE ticket_id IN (SELECT t.id FROM tickets t WHERE t.coupon_id = :coupon_id AND t.status = 'resulted')
""")


def results_of(conn: Connection, coupon_id: str) -> dict[int, EventResult]:
    query = select(event_results.c.event_id, event_results.c.result).where(event_results.c.coupon_id == coupon_id)
    return {row.event_id: EventResult(row.result) for row in conn.execute(query)}


def save_result(conn: Connection, coupon_id: str, event_id: int, result: EventResult, now: datetime, by: str) -> None:
    values = {"result": result.value, "entered_at": now, "entered_by": by}
    where = and_(event_results.c.coupon_id == coupon_id, event_results.c.event_id == event_id)
    if conn.execute(update(event_results).where(where).values(**values)).rowcount == 0:
        conn.execute(insert(event_results).values(coupon_id=coupon_id, event_id=event_id, **values))


def round_of(conn: Connection, coupon_id: str):
    return conn.execute(select(coupon_rounds).where(coupon_rounds.c.coupon_id == coupon_id)).first()


def save_round(conn: Connection, coupon_id: str, state: str, now: datetime, correction: bool) -> None:
    existing = round_of(conn, coupon_id)
    if existing is None:
        conn.execute(insert(coupon_rounds).values(coupon_id=coupon_id, state=state, settled_at=now, corrections=0))
        return
    conn.execute(
        update(coupon_rounds)
        .where(coupon_rounds.c.coupon_id == coupon_id)
        .values(state=state, settled_at=now, corrections=existing.corrections + (1 if correction else 0))
    )


def settle_statement(results: dict[int, EventResult]):
    return text(_SETTLE.format(tally=_tally(results))).bindparams(bindparam("now", type_=DateTime))


def settle_coupon(
    conn: Connection,
    coupon_id: str,
    results: dict[int, EventResult],
    max_void_events: int,
    now: datetime,
    cancelled: bool,
) -> int:
    """Settle every unsettled ticket of the coupon; the number settled. Winners with void events are left at their
    sold amounts for `reprice_void_winners`, which must run before the wallets pay them."""
    if cancelled:
        settled = conn.execute(VOID_COUPON, {"coupon_id": coupon_id, "now": now}).rowcount
    else:
        params = {"coupon_id": coupon_id, "now": now, "max_void_events": max_void_events}
        settled = conn.execute(settle_statement(results), params).rowcount
    conn.execute(MARK_RESULTED, {"coupon_id": coupon_id, "now": now})
    return settled


def void_winners(
    conn: Connection, coupon_id: str, now: datetime
) -> dict[str, tuple[Decimal, Decimal, list[TicketEvent], str]]:
    """Full winners settled now that carry a void event: stake, payout sold, picks and account kind of each."""
    rows = conn.execute(
        select(tickets.c.id, tickets.c.stake_cents, tickets.c.payout_cents, tickets.c.wallet, accounts.c.kind)
        .join(ticket_settlements, ticket_settlements.c.ticket_id == tickets.c.id)
        .outerjoin(accounts, accounts.c.token_sha256 == tickets.c.token_sha256)
        .where(
            ticket_settlements.c.coupon_id == coupon_id,
            ticket_settlements.c.settled_at == now,
            ticket_settlements.c.result == "won",
            ticket_settlements.c.prize_tier.is_(None),
            ticket_settlements.c.voids > 0,
        )
    ).all()
    winners = {
        row.id: (
            from_cents(row.stake_cents),
            from_cents(row.payout_cents),
            [],
            row.kind if row.wallet == "internal" else "player",
        )
        for row in rows
    }
    if winners:
        picks = conn.execute(
            select(ticket_events)
            .where(ticket_events.c.ticket_id.in_(list(winners)))
            .order_by(ticket_events.c.ticket_id, ticket_events.c.position)
        )
        for pick in picks:
            winners[pick.ticket_id][2].append(
                TicketEvent(id=pick.event_id, bet=pick.bet, odds=(Decimal(pick.odds) / 100).quantize(Decimal("0.01")))
            )
    return winners


def reprice(conn: Connection, ticket_id: str, payout: Decimal, tax: Decimal, net: Decimal, credited: Decimal) -> None:
    conn.execute(
        update(ticket_settlements)
        .where(ticket_settlements.c.ticket_id == ticket_id)
        .values(
            payout_cents=to_cents(payout),
            tax_cents=to_cents(tax),
            net_payout_cents=to_cents(net),
            credited_cents=to_cents(credited),
        )
    )


def credit_players(conn: Connection, coupon_id: str, now: datetime) -> None:
    """The internal wallet's accounts credited with what this settlement owes them."""
    conn.execute(CREDIT_PLAYERS, {"coupon_id": coupon_id, "now": now})


def reverse_credits(conn: Connection, coupon_id: str) -> None:
    """The internal wallet's accounts debited with what the coupon's settlement credited them."""
    conn.execute(REVERSE_CREDITS, {"coupon_id": coupon_id})


def roll_back_settlement(conn: Connection, coupon_id: str, now: datetime) -> None:
    """Betstack's rollback, once the wallets have taken back what was paid: tickets reopened, their settlements
    forgotten (payouts are kept)."""
    conn.execute(REOPEN_TICKETS, {"coupon_id": coupon_id, "now": now})
    conn.execute(FORGET_SETTLEMENTS, {"coupon_id": coupon_id})


def flag_paid_before_correction(conn: Connection, coupon_id: str) -> None:
    conn.execute(FLAG_PAID_BEFORE_CORRECTION, {"coupon_id": coupon_id})


def payout_of(conn: Connection, ticket_id: str):
    return conn.execute(select(payouts).where(payouts.c.ticket_id == ticket_id)).first()
