"""The HTTP endpoints of the operator's wallet, as one router that `ticketing.api` includes.

None is Betstack's, so each is signed over method, path and body (`ticketing.access.signatures`). The outbox and the
reconciliation are an admin's (`Permission.OPERATE_WALLET`); a player's balance is a till's, asked before it sells.
"""

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from ticketing.access.http import Engine, guard
from ticketing.access.roles import Permission
from ticketing.contract.models import PrintableText
from ticketing.contract.wire import WireJSONResponse, WireRoute
from ticketing.wallets.outbox import BLOCKING, CANCELLED, DELIVERED, DISCARDED, OutboxMessage
from ticketing.wallets.reconcile import Reconciliation, WalletPlayer, WalletStatus

STATES = "|".join((*BLOCKING, DELIVERED, CANCELLED, DISCARDED))


MAX_MESSAGE_ID = 2**31 - 1


class RetryRequest(BaseModel):
    """Which failed messages to send again: one message, one ticket's (id or code), or (neither) all."""

    model_config = ConfigDict(extra="forbid")

    ticket: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9 -]+$")] | None = None
    # A message's id is the outbox's 32-bit serial (`wallet_outbox.id`): a larger one names no message, and PostgreSQL
    # would refuse to compare it with the column.
    message_id: Annotated[int, Field(ge=1, le=MAX_MESSAGE_ID)] | None = None


class Retried(BaseModel):
    retried: int


class PlayerLookup(BaseModel):
    """A token in the body, never in a URL (where logs would keep it)."""

    model_config = ConfigDict(extra="forbid")

    token: Annotated[PrintableText, Field(min_length=1, max_length=256)]


Operations = guard(Permission.OPERATE_WALLET)
Seller = guard(Permission.SELL)


def wallet_router(errors: dict) -> APIRouter:
    router = APIRouter(prefix="/be/wallet", responses=errors, tags=["wallet"], route_class=WireRoute)

    @router.get("", response_model=WalletStatus)
    def status(caller: Operations, engine: Engine):
        """The operator's wallet (`internal` or `pam`, its URL but never its secret) and its messages by state."""
        return WireJSONResponse(engine.wallet_status(caller.actor))

    @router.get("/outbox", response_model=list[OutboxMessage])
    def messages(
        caller: Operations,
        engine: Engine,
        ticket: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9 -]+$")] = None,
        state: Annotated[str | None, Query(pattern=f"^({STATES})$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ):
        """Messages to the wallet, newest first; with `ticket` (id or code), that ticket's in the order sent."""
        return WireJSONResponse(engine.wallet_messages(caller.actor, ticket, state, limit))

    @router.post("/outbox/retry", response_model=Retried)
    def retry(body: RetryRequest, caller: Operations, engine: Engine):
        """Failed messages (and unanswered ones waiting for their next attempt) sent again now."""
        return WireJSONResponse({"retried": engine.retry_wallet_messages(caller.actor, body.ticket, body.message_id)})

    @router.get("/reconciliation", response_model=Reconciliation)
    def reconciliation(caller: Operations, engine: Engine):
        """The operator's PAM tickets against its wallet's ledger: every difference, ticket by ticket."""
        return WireJSONResponse(engine.reconcile_wallet(caller.actor))

    @router.post("/player", response_model=WalletPlayer)
    def player(body: PlayerLookup, caller: Seller, engine: Engine):
        """Who a token is and its balance now, from the wallet its money is in."""
        return WireJSONResponse(engine.wallet_player(caller.actor, body.token))

    return router
