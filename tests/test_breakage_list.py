"""The breakages of `python -m tests.breakages` stay applicable: a change to the code they break shows here first."""

import re
from pathlib import Path

import pytest

from tests.breakage_list import BREAKAGES, Breakage
from tests.breakages import applicable

ROOT = Path(__file__).resolve().parent.parent


def test_breakage_ids_are_unique():
    ids = [b.id for b in BREAKAGES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda b: b.id)
def test_each_breakage_finds_its_text_once_and_names_tests_that_exist(breakage: Breakage):
    assert applicable(breakage, ROOT) is None
    assert breakage.old != breakage.new and breakage.tests
    for node in breakage.tests:
        path, _, name = node.partition("::")
        assert (ROOT / path).is_file(), node
        assert not name or re.search(rf"^def {re.escape(name)}\(", (ROOT / path).read_text(), re.M), node
