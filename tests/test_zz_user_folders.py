"""The tests run so far in this process left the repository's own output folders as they were (the
whole suite's check is conftest.pytest_sessionfinish: with -n 2 this file need not run last)."""

from conftest import BEFORE, snapshot


def test_the_tests_never_touched_the_users_outputs():
    assert snapshot() == BEFORE
