"""One reference wallet per test module (each test gets players of its own), and an engine selling through it."""

import pytest

from tests.wallets.support import engine_for, new_player, reference_wallet


@pytest.fixture(scope="module")
def wallet(tmp_path_factory):
    with reference_wallet(tmp_path_factory.mktemp("wallet")) as server:
        yield server


@pytest.fixture
def pam_engine(databases, wallet):
    """An in-process engine on a fresh database (each backend) whose demo operator's wallet is the reference wallet."""
    wallet.clear_faults()
    engine = engine_for(databases.make(), wallet)
    yield engine
    engine.close()


@pytest.fixture
def player(wallet):
    """A player of this test's own in the wallet: its token and player id."""
    return new_player(wallet)
