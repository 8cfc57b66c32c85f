"""Fixtures shared by the model tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def rows():
    """3,000 synthetic events: (X, y) as a run's table gives them."""
    from uctune.data import generate, validate_table

    table = validate_table(generate(3000, seed=5)[0])
    return table.X, table.y
