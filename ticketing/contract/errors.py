"""Typed errors of the ticket engine, each with its Betstack-style code and HTTP status.

The same classes are raised by the in-process engine and re-raised by `ticketing.client` from an
error response, so a terminal handles both engines alike. The full table is in the README.
"""

import re
from typing import Any, ClassVar

_UNSEEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")
"""Control, direction and invisible characters: a message quotes what a client sent (a ticket reference, an id)."""


def visible(text: str) -> str:
    """`text` with each character of `_UNSEEN` written as its escape (`\\u202e`): what a client sent is shown, never
    handed on to act on a log line or a screen (a right-to-left override turned a 404's message around)."""
    return _UNSEEN.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


class TicketingError(Exception):
    """Base: `{"code": code, "message": message, **details}` answered with `http_status`."""

    code: ClassVar[int] = 99
    http_status: ClassVar[int] = 500
    default_message: ClassVar[str] = "Internal error"

    def __init__(self, message: str | None = None, **details: Any):
        self.message = visible(message or self.default_message)
        self.details = details
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class FeatureNotImplemented(TicketingError):
    code, http_status = 100, 400


class EventNotAvailable(TicketingError):
    code, http_status = 101, 400


class OddsChanged(TicketingError):
    """Details carry `events`: every moved pick with the odds submitted and the current odds."""

    code, http_status, default_message = 102, 400, "Odds changed"


class CouponNotFound(TicketingError):
    code, http_status = 103, 400


class CouponClosed(TicketingError):
    code, http_status = 104, 400


class WrongPicks(TicketingError):
    code, http_status = 105, 400


class OperatorNotFound(TicketingError):
    code, http_status = 106, 400


class BetNotOffered(TicketingError):
    code, http_status = 107, 400


class StakeOutOfLimits(TicketingError):
    code, http_status = 108, 400


class CurrencyNotAccepted(TicketingError):
    code, http_status = 109, 400


class InsufficientBalance(TicketingError):
    code, http_status, default_message = 110, 400, "Insufficient balance"


class IdempotencyKeyReused(TicketingError):
    code, http_status = 112, 400
    default_message = "Idempotency key already used for a different ticket request"


class CouponRejected(TicketingError):
    """Publishing a coupon with errors. Details carry `problems`: every problem the QA check found."""

    code, http_status, default_message = 114, 400, "Coupon has errors"


class CouponInUse(TicketingError):
    code, http_status = 115, 400


class ResultsNotAllowed(TicketingError):
    """A result before the coupon's deadline, or for a cancelled coupon."""

    code, http_status = 130, 400


class TicketAlreadyPaid(TicketingError):
    code, http_status = 131, 400


class TicketNotPayable(TicketingError):
    """Lost, not settled yet (`waiting_for`), cancelled, or credited to a player's account: nothing to pay in cash."""

    code, http_status = 132, 400


class CancelNotAllowed(TicketingError):
    code, http_status = 133, 400


class NoOpenShift(TicketingError):
    code, http_status = 134, 400


class DrawerShort(TicketingError):
    """A cash payout or refund larger than the till's drawer holds by its shift's count: cash added from the safe to
    the shift first (`POST /be/shifts/current/cash`) makes it payable."""

    code, http_status = 138, 400


class ShiftAlreadyOpen(TicketingError):
    code, http_status = 135, 400


class CouponFinal(TicketingError):
    """Past the correction window: the coupon's results stand."""

    code, http_status = 136, 400


class ShiftNotFound(TicketingError):
    code, http_status = 137, 404


class DraftChanged(TicketingError):
    """Publishing a draft other than the version reviewed: it was uploaded again since. Details carry `version`."""

    code, http_status = 150, 400


class CouponNotOpen(TicketingError):
    """Withdrawing, or replacing by a draft, a coupon that is no longer open (results entered, cancelled)."""

    code, http_status = 151, 400


class WalletRefused(TicketingError):
    """The operator's wallet (its PAM) answered a refusal: the ticket was not sold. Details carry the wallet's own
    `wallet_code` and `wallet_message` when it sent them."""

    code, http_status, default_message = 140, 400, "The operator's wallet refused the ticket"


class WalletUnavailable(TicketingError):
    """The operator's wallet did not answer in time, could not be reached or answered nonsense (`reason`: `timeout`,
    `connection` or `answer`): the ticket was not sold, and its discard is queued."""

    code, http_status, default_message = 141, 503, "The operator's wallet did not answer: the ticket was not sold"


class SaleDiscarded(TicketingError):
    """A retry or replay of a sale whose wallet call failed: that ticket was discarded, never sold."""

    code, http_status = 142, 400


class OutboxMessageNotFound(TicketingError):
    code, http_status = 143, 404


class NoPamWallet(TicketingError):
    """Outbox and reconciliation are for an operator whose wallet is a PAM; its wallet is the engine's accounts."""

    code, http_status = 144, 400


class TicketNotFound(TicketingError):
    code, http_status = 111, 404


class CouponMissing(TicketingError):
    """A coupon or event looked up by URL that does not exist (404, unlike a ticket naming one: 103)."""

    code, http_status = 113, 404


class InvalidToken(TicketingError):
    code, http_status, default_message = 120, 403, "Invalid token"


class InvalidSignature(TicketingError):
    code, http_status, default_message = 121, 403, "Invalid signature"


class NotAllowed(TicketingError):
    """The credential is valid but its role (or its operator) may not do this; nothing was written."""

    code, http_status, default_message = 122, 403, "Not allowed for this credential's role"


class ReplayedRequest(TicketingError):
    """A signed request seen before, other than a sale whose first sending sold (that one answers its ticket)."""

    code, http_status, default_message = 123, 403, "Request already used: sign each request afresh"


class ValidationFailed(TicketingError):
    """Malformed input. Details carry `errors`: one `{"field", "message"}` per bad field."""

    code, http_status, default_message = 90, 422, "Invalid request"


class RequestTooLarge(TicketingError):
    code, http_status, default_message = 91, 413, "Request body too large"


class RequestTooSlow(TicketingError):
    """Answered by `ticketing.serve` itself: the request did not arrive whole in time (a slow or stalled client)."""

    code, http_status, default_message = 92, 408, "Request not received in time"


class RequestHeadTooLarge(TicketingError):
    """Answered by `ticketing.serve` itself, before the head is read whole."""

    code, http_status, default_message = 93, 431, "Request line and headers too large"


class ServerBusy(TicketingError):
    """Answered by `ticketing.serve` itself: more connections than it is set to serve at once."""

    code, http_status, default_message = 94, 503, "Too many connections: try again"


class EngineUnavailable(TicketingError):
    """Raised by the client when the remote engine cannot be reached or answers nonsense."""

    code, http_status, default_message = 98, 503, "Ticket engine unavailable"


ERRORS_BY_CODE: dict[int, type[TicketingError]] = {
    cls.code: cls for cls in (TicketingError, *TicketingError.__subclasses__())
}
"""Every error class by its code, so the client re-raises the same type (codes are unique: a test checks)."""


def error_from_body(body: dict[str, Any]) -> TicketingError:
    """Rebuild the typed error an engine answered with (used by the HTTP client)."""
    details = {k: v for k, v in body.items() if k not in ("code", "message")}
    cls = ERRORS_BY_CODE.get(body.get("code"), TicketingError)
    return cls(str(body.get("message") or cls.default_message), **details)
