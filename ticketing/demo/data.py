"""Demo data, seeded on first start: operator `site` (KES), the spec's sample token, three open jackpot coupons.

Kickoffs are relative to now, and a demo coupon whose deadline has come is rolled forward at the next start, so
the demo is open on any day. Odds come from a seeded generator with a bookmaker's margin, so they look real.
"""

import random
from contextlib import suppress
from datetime import datetime, timedelta
from decimal import Decimal

from ticketing.access.credentials import seed_credential
from ticketing.access.roles import Role
from ticketing.contract.errors import ShiftAlreadyOpen
from ticketing.contract.identifiers import token_fingerprint
from ticketing.contract.models import DEFAULT_MAX_PAYOUT, Coupon, CouponEvent, CouponStatus, EventStatus, StakeRules
from ticketing.contract.money import round_odds
from ticketing.engine import TicketEngine
from ticketing.selling.pricing import TaxProfile
from ticketing.settings import DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET, DEMO_FEED_KEY_ID, DEMO_FEED_SECRET
from ticketing.storage import Account, Operator

DEMO_OPERATOR = "site"
DEMO_CURRENCY = "KES"
SAMPLE_TOKEN = "sGhx12skwrXsukbZmWh7bkCC9YPEzYQKtKSe9EfCth3Q"
SAMPLE_USER_ID = "1660986605374148608"
SHOP_OPENING_BALANCE = Decimal("10000000.00")
DEMO_TILL_FLOAT = Decimal("5000.00")
"""The cash in the demo till's drawer: a new demo database starts with the till's shift open, so that a demo sells
at once (a cash sale at a till needs the till's open shift). A real till opens its own, with the float it counted."""
PLAYER_TOKEN = "PLYR-7Qm2vX9kLc4Rt8Ns3Bw6Hd1Fj5Gz0Ya"
PLAYER_USER_ID = "1660986605374148609"
PLAYER_OPENING_BALANCE = Decimal("5000.00")

FIXTURES = [
    ("Premier League", "Arsenal", "Chelsea"),
    ("Premier League", "Liverpool", "Everton"),
    ("Premier League", "Manchester City", "Tottenham Hotspur"),
    ("Premier League", "Newcastle United", "Aston Villa"),
    ("Premier League", "Brighton", "West Ham United"),
    ("Premier League", "Brentford", "Fulham"),
    ("La Liga", "Real Madrid", "Sevilla"),
    ("La Liga", "Barcelona", "Real Sociedad"),
    ("La Liga", "Atletico Madrid", "Villarreal"),
    ("La Liga", "Real Betis", "Athletic Club"),
    ("Serie A", "Inter", "Lazio"),
    ("Serie A", "Juventus", "Napoli"),
    ("Serie A", "AC Milan", "Roma"),
    ("Serie A", "Atalanta", "Fiorentina"),
    ("Bundesliga", "Bayern Munich", "Eintracht Frankfurt"),
    ("Bundesliga", "Borussia Dortmund", "RB Leipzig"),
    ("Bundesliga", "Bayer Leverkusen", "VfB Stuttgart"),
    ("Ligue 1", "Paris Saint-Germain", "Lille"),
    ("Ligue 1", "Marseille", "Lyon"),
    ("Ligue 1", "Monaco", "Nice"),
    ("Eredivisie", "Ajax", "Feyenoord"),
    ("Eredivisie", "PSV", "AZ Alkmaar"),
    ("Championship", "Leeds United", "Sunderland"),
    ("Championship", "Norwich City", "Middlesbrough"),
    ("Kenyan Premier League", "Gor Mahia", "AFC Leopards"),
    ("Kenyan Premier League", "Tusker", "KCB"),
    ("Kenyan Premier League", "Kakamega Homeboyz", "Shabana"),
    ("Kenyan Premier League", "Police FC", "Bandari"),
    ("Primeira Liga", "Benfica", "Porto"),
    ("Primeira Liga", "Sporting CP", "Braga"),
    ("Scottish Premiership", "Celtic", "Rangers"),
    ("Super Lig", "Galatasaray", "Fenerbahce"),
    ("Premier League", "Manchester United", "Wolverhampton"),
    ("La Liga", "Valencia", "Girona"),
    ("Serie A", "Bologna", "Torino"),
    ("Bundesliga", "Wolfsburg", "Freiburg"),
    ("Ligue 1", "Lens", "Rennes"),
]

DEMO_COUPONS = [
    # id, name, number of events, first event id, stake rules, max payout, days until the deadline
    (
        "455",
        "Midweek Jackpot",
        7,
        390811,
        StakeRules(min_stake=Decimal(25), max_stake=Decimal(10000)),
        Decimal("5000000"),
        1,
    ),
    (
        "456",
        "Weekend Jackpot 13",
        13,
        391001,
        StakeRules(min_stake=Decimal(50), max_stake=Decimal(20000)),
        Decimal("10000000"),
        2,
    ),
    (
        "457",
        "Mega Jackpot 17",
        17,
        392001,
        StakeRules(min_stake=Decimal(99), max_stake=Decimal(99), fixed_stake=Decimal(99)),
        Decimal("25000000"),
        3,
    ),
]
MARGIN = Decimal("0.07")


def fair_odds(rng: random.Random) -> dict[int, Decimal]:
    """1X2 odds from a random but believable outcome split, with a 7% bookmaker margin."""
    home = rng.uniform(0.25, 0.62)
    draw = rng.uniform(0.22, 0.31)
    away = max(0.08, 1 - home - draw)
    total = home + draw + away
    probabilities = [home / total, draw / total, away / total]
    return {
        bet: round_odds(1 / (Decimal(str(p)) * (1 + MARGIN)))
        for bet, p in zip((101, 102, 103), probabilities, strict=True)
    }


def demo_coupon(spec: tuple, now: datetime, rng: random.Random) -> Coupon:
    coupon_id, name, size, first_event_id, rules, max_payout, days = spec
    closes_at = (now + timedelta(days=days)).replace(hour=12, minute=0, second=0, microsecond=0)
    fixtures = rng.sample(FIXTURES, size)
    events = [
        CouponEvent(
            id=first_event_id + i,
            home=home,
            away=away,
            competition=competition,
            kickoff=closes_at + timedelta(hours=3 + i // 3, minutes=15 * (i % 3)),
            odds=fair_odds(rng),
        )
        for i, (competition, home, away) in enumerate(fixtures)
    ]
    return Coupon(
        id=coupon_id,
        name=name,
        currency=DEMO_CURRENCY,
        closes_at=closes_at,
        stake_rules=rules,
        max_payout=max_payout,
        events=events,
    )


def roll_forward(coupon: Coupon, now: datetime, days: int) -> Coupon:
    """The same coupon and odds, its deadline moved to `days` from now, every event available again."""
    closes_at = (now + timedelta(days=days)).replace(hour=12, minute=0, second=0, microsecond=0)
    shift = closes_at - coupon.closes_at
    events = [
        e.model_copy(update={"kickoff": e.kickoff + shift, "status": EventStatus.AVAILABLE}) for e in coupon.events
    ]
    return coupon.model_copy(update={"closes_at": closes_at, "events": events, "status": CouponStatus.OPEN})


def seed_demo_data(
    engine: TicketEngine,
    site_secret: str,
    feed_secret: str = DEMO_FEED_SECRET,
    admin_secret: str = DEMO_ADMIN_SECRET,
    seed: int = 455,
    max_payout: Decimal = DEFAULT_MAX_PAYOUT,
    wallet_url: str | None = None,
    wallet_secret: str | None = None,
) -> None:
    """Idempotent: creates what is missing, refreshes the operator's secrets (a revoked credential stays revoked),
    its cap and its wallet (a PAM at `wallet_url`, else the engine's accounts), rolls stale demo coupons forward."""
    store, now, rng = engine.store, engine.clock(), random.Random(seed)
    new_shop = False
    with store.write() as conn:
        store.save_operator(
            conn,
            Operator(
                name=DEMO_OPERATOR,
                currency=DEMO_CURRENCY,
                secret=site_secret,
                tax_profile=TaxProfile(),
                max_payout=max_payout,
                wallet="pam" if wallet_url else "internal",
                wallet_url=wallet_url,
                wallet_secret=wallet_secret if wallet_url else None,
            ),
        )
        seed_credential(conn, DEMO_FEED_KEY_ID, DEMO_OPERATOR, Role.FEED, feed_secret, now)
        seed_credential(conn, DEMO_ADMIN_KEY_ID, DEMO_OPERATOR, Role.ADMIN, admin_secret, now)
        for token, user_id, balance, kind in (
            (SAMPLE_TOKEN, SAMPLE_USER_ID, SHOP_OPENING_BALANCE, "shop"),
            (PLAYER_TOKEN, PLAYER_USER_ID, PLAYER_OPENING_BALANCE, "player"),
        ):
            existing = store.load_account(conn, token_fingerprint(token))
            if existing is None:
                new_shop = new_shop or kind == "shop"
                store.add_account(
                    conn,
                    Account(
                        token_sha256=token_fingerprint(token),
                        operator=DEMO_OPERATOR,
                        user_id=user_id,
                        balance=balance,
                        kind=kind,
                    ),
                )
            elif existing.kind != kind:
                store.set_account_kind(conn, existing.token_sha256, kind)
        for spec in DEMO_COUPONS:
            fresh = demo_coupon(spec, now, rng)
            owner = store.coupon_owner(conn, spec[0])
            if owner is None:
                store.save_coupon(conn, fresh, DEMO_OPERATOR)
            elif owner == DEMO_OPERATOR:
                stored = store.load_coupon(conn, spec[0], DEMO_OPERATOR)
                if stored.closes_at < now + timedelta(hours=1):
                    store.save_coupon(conn, roll_forward(stored, now, spec[-1]), DEMO_OPERATOR)
    if new_shop:
        # The operator's Betstack key is the embedded terminal's till (`Actor.till`); a shift of it already open (a
        # database whose shop account was removed) is kept.
        with suppress(ShiftAlreadyOpen):
            engine.shifts.open_shift(DEMO_OPERATOR, DEMO_OPERATOR, DEMO_TILL_FLOAT)
