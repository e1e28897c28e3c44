"""Ticket ids (24-hex ObjectIds), ticket codes (6 characters, easy to read aloud), token fingerprints."""

import hashlib
import itertools
import secrets
from datetime import datetime

CODE_ALPHABET = "ACDEFHJKMNPRTUVWXY34679"
"""Upper-case letters and digits without look-alikes (0/O, 1/I/L, 2/Z, 5/S, 8/B, G/6): 23**6 = 148 million codes."""
CODE_LENGTH = 6


_SEQUENCE = itertools.count(secrets.randbelow(1 << 24))
"""The ids a process makes follow one another within a second: a batch's tickets and their picks then go to one
place of the tickets' and picks' indexes, where random ids scattered them over as many pages, each written again to
SQLite's WAL at every commit (29 pages a batch of four against 24: README "Performance")."""


def new_ticket_id(now: datetime) -> str:
    """An ObjectId as MongoDB lays it out, its parts in another order: 4 bytes of creation time, a 3-byte counter
    (its start drawn at random, as MongoDB's), then 5 random bytes, so that an id does not tell the next one."""
    return f"{int(now.timestamp()):08x}{next(_SEQUENCE) & 0xFFFFFF:06x}{secrets.token_hex(5)}"


def new_ticket_code() -> str:
    """One uniform draw among the 148 million codes, written in base 23: one call for randomness, not six."""
    number = secrets.randbelow(len(CODE_ALPHABET) ** CODE_LENGTH)
    characters = []
    for _ in range(CODE_LENGTH):
        number, digit = divmod(number, len(CODE_ALPHABET))
        characters.append(CODE_ALPHABET[digit])
    return "".join(characters)


def normalize_ticket_reference(text: str) -> str:
    """A typed or scanned id or code: spaces and dashes dropped; codes upper-case, ids lower-case hex."""
    cleaned = "".join(ch for ch in text if not ch.isspace() and ch != "-")
    return cleaned.lower() if len(cleaned) == 24 else cleaned.upper()


def token_fingerprint(token: str) -> str:
    """Tokens are stored only as this SHA-256, so a leaked database leaks no token."""
    return hashlib.sha256(token.encode()).hexdigest()


def mask_token(token: str) -> str:
    """What a screen may show of a token: its first and last 4 characters."""
    return f"{token[:4]}…{token[-4:]}" if len(token) > 10 else "…"
