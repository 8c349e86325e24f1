"""Schema tests: a connection to a fresh migrated database, and a seeded kitchen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.pg import Kitchen, connect, seed_kitchen


@pytest.fixture
def conn(db_url: str) -> Iterator[Any]:
    with connect(db_url) as c:
        yield c


@pytest.fixture
def k(conn: Any) -> Kitchen:
    return seed_kitchen(conn)
