"""What an operator reads when Steadfast migrates its database at start."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from storage.migrate import upgrade


def test_a_migration_logs_the_steps_it_applies_and_nothing_of_its_set_up(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        upgrade(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("alembic")]
    assert lines and lines[0].startswith("Running upgrade  -> 0001")
    assert all(line.startswith("Running upgrade") for line in lines), lines
