"""One reference wallet per test module and backend (each test gets players of its own), and an engine selling through
it."""

import pytest

from tests.wallets.support import engine_for, new_player, reference_wallet


@pytest.fixture(scope="module")
def wallet(backend, tmp_path_factory):
    """One for each backend's run of a module: a reconciliation compares every ticket the wallet has."""
    with reference_wallet(tmp_path_factory.mktemp(f"wallet-{backend}")) as server:
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
