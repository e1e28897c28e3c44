"""Enter a coupon's last result, then hang inside the settlement's transaction, just before its commit, for a test
to SIGKILL: `python -m tests.settle_then_hang DB COUPON EVENT RESULT NOW_ISO MARKER`. MARKER is created when the
settlement has written everything but the commit."""

import sys
import time
from datetime import datetime
from pathlib import Path

from tests.support import SITE_ADMIN
from ticketing.contract.models import EventResult
from ticketing.embedded import open_engine
from ticketing.settings import Settings
from ticketing.settlement import queries


def main() -> None:
    database, coupon_id, event_id, result, now, marker = sys.argv[1:]
    credit_players = queries.credit_players

    def credit_then_hang(conn, coupon, at):
        credit_players(conn, coupon, at)
        Path(marker).touch()
        time.sleep(3600)

    queries.credit_players = credit_then_hang
    engine = open_engine(Settings(database=database, simulator=False))
    engine.clock = lambda: datetime.fromisoformat(now)
    engine.enter_result(SITE_ADMIN, coupon_id, int(event_id), EventResult(result))


if __name__ == "__main__":
    main()
