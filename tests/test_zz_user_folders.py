"""Runs last (file name): the whole suite left the repository's own output folders as they were."""

from conftest import BEFORE, snapshot


def test_the_tests_never_touched_the_users_outputs():
    assert snapshot() == BEFORE
