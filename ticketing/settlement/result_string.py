"""Results typed like a pick string: `1X2V-1X`, one character per event in coupon order. Pure, no I/O.

`1`, `X` (or `0`, as on a numeric keypad) and `2` are results, `V` is void (abandoned, postponed, cancelled), `-`
an event whose result is not in yet. Case and spaces are ignored, so an admin can type it as the matches finish.
"""

from ticketing.contract.models import EventResult

RESULT_CHARS = {
    "1": EventResult.HOME,
    "X": EventResult.DRAW,
    "0": EventResult.DRAW,
    "2": EventResult.AWAY,
    "V": EventResult.VOID,
}
NOT_IN_YET = "-"
LABELS = {EventResult.HOME: "1", EventResult.DRAW: "X", EventResult.AWAY: "2", EventResult.VOID: "V"}


class ResultStringError(ValueError):
    pass


def parse_result_string(text: str, events: int) -> list[EventResult | None]:
    """One result (or None: not in yet) per event, in coupon order."""
    cleaned = "".join(text.split()).upper()
    wrong = [
        f"'{ch}' at position {i}"
        for i, ch in enumerate(cleaned, start=1)
        if ch not in RESULT_CHARS and ch != NOT_IN_YET
    ]
    if wrong:
        raise ResultStringError(f"Only 1, X (or 0), 2, V (void) and - (not in yet) are results: {', '.join(wrong)}")
    if len(cleaned) != events:
        raise ResultStringError(f"{events} results needed, got {len(cleaned)}")
    return [RESULT_CHARS.get(ch) for ch in cleaned]


def result_string(results: list[EventResult | None]) -> str:
    return "".join(LABELS[r] if r is not None else NOT_IN_YET for r in results)
