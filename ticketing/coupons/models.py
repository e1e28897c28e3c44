"""What the drafts, publishing and sandbox endpoints take and answer."""

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ticketing.contract.models import (
    MAX_PICKS,
    BetId,
    Coupon,
    Money,
    OddsTolerance,
    PickedEvent,
    SettlementSummary,
    Ticket,
    TicketRequest,
    TicketResult,
    UtcDatetime,
)
from ticketing.coupons.check import Problem


class CouponChange(BaseModel):
    """One difference between the coupon on sale and the draft that would replace it."""

    where: str = Field(description="`coupon`, or `event ID (home v away)`")
    event_id: int | None = None
    field: str = Field(description="What differs; `event` for an event added or removed")
    live: str | None = Field(description="As on sale now (odds as the feed has moved them); null: not there")
    draft: str | None = Field(description="As publishing would make it; null: gone")


class Draft(BaseModel):
    """A coupon uploaded for QA and not on sale, and what publishing it would do."""

    coupon: Coupon = Field(description="As it would go on sale (status `draft` until it is published)")
    version: str = Field(description="Publishing names it, so a draft uploaded again since is not published unseen")
    updated: UtcDatetime
    updated_by: str
    problems: list[Problem] = Field(description="The QA check run now: a deadline that has passed is an error")
    live: Coupon | None = Field(default=None, description="The version on sale that publishing would replace")
    changes: list[CouponChange] = Field(default_factory=list, description="Event by event, against `live`")
    publishable: bool
    refusal: str | None = Field(default=None, description="Why it cannot be published now")


class DraftSummary(BaseModel):
    id: str
    name: str
    events: int
    closes_at: UtcDatetime
    version: str
    updated: UtcDatetime
    updated_by: str
    replaces_live: bool = Field(description="A coupon with this id is on sale: publishing replaces it")


class Publication(BaseModel):
    """Body of `POST /be/coupons/{id}/publish`: the version of the draft that was reviewed."""

    model_config = ConfigDict(extra="forbid")

    version: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]


class SandboxSale(BaseModel):
    """Body of `POST /be/coupons/{id}/sandbox/tickets`: a test ticket, picked as a till picks (`bets` or
    `events` with the odds seen); the rest of a sale (operator, currency, source, type) is the sandbox's."""

    model_config = ConfigDict(extra="forbid")

    stake: Annotated[Money, Field(gt=0)]
    odds_diff: OddsTolerance = Decimal("0")
    bets: list[BetId] | None = Field(default=None, min_length=1, max_length=MAX_PICKS)
    events: list[PickedEvent] | None = Field(default=None, min_length=1, max_length=MAX_PICKS)

    @model_validator(mode="after")
    def _one_pick_shape(self) -> "SandboxSale":
        if (self.bets is None) == (self.events is None):
            raise ValueError("send exactly one of `bets` (positional bet ids) or `events` ([{id, bet, odds}])")
        return self

    def ticket_request(self, operator: str, currency: str, coupon_id: str) -> TicketRequest:
        return TicketRequest(
            operator=operator,
            stake=self.stake,
            currency=currency,
            source="retail",
            type="jackpot",
            token="sandbox",
            odds_diff=self.odds_diff,
            coupon_id=coupon_id,
            bets=self.bets,
            events=self.events,
        )


class PromisedSettlement(BaseModel):
    """What the coupon's own rules (`ticketing.settlement.rules`) pay a ticket on the results entered."""

    result: TicketResult
    prize_tier: int | None = None
    payout: Money
    tax: Money
    net_payout: Money
    refund: Money


class SandboxTicket(BaseModel):
    ticket: Ticket = Field(description="The test ticket as the engine sold and settled it")
    promised: PromisedSettlement | None = Field(
        default=None, description="By the coupon's rules, once every result of the ticket is in"
    )
    agrees: bool | None = Field(default=None, description="The engine's settlement equals `promised`")


class Sandbox(BaseModel):
    """A draft tried end to end: its own copy of the coupon (odds and statuses QA may move), test tickets sold by
    the engine's rules, and their settlement on test results. Nothing here moves money or shows in a real list."""

    coupon: Coupon = Field(description="The sandbox's copy of the draft, with its odds and statuses as QA moved them")
    summary: SettlementSummary
    tickets: list[SandboxTicket]
