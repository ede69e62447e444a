"""Fixtures shared by the test files (pytest finds this file; tests import nothing from it)."""

from __future__ import annotations

import pytest


@pytest.fixture
def closing():
    """Register envs to be closed at teardown, even when an assertion fails."""
    envs = []

    def track(env):
        envs.append(env)
        return env

    yield track
    for env in envs:
        env.close()
