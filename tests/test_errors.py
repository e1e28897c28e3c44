"""The error table: unique codes, and the client rebuilds each typed error from its body."""

from ticketing.contract.errors import ERRORS_BY_CODE, TicketingError, error_from_body


def test_every_error_code_is_unique_and_rebuilt_by_the_client():
    classes = [TicketingError, *TicketingError.__subclasses__()]
    assert len({cls.code for cls in classes}) == len(classes)
    for code, cls in ERRORS_BY_CODE.items():
        assert type(error_from_body({"code": code, "message": "m"})) is cls
