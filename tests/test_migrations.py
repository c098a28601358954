"""The migrations build the schema the models describe, on SQLite and PostgreSQL, and the
newest one can be undone."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage.migrate import alembic_config
from storage.models import Base
from tests.conftest import Database
from tests.helpers import read_schema


def _tables_and_differences(url: str) -> tuple[set[str], list[object]]:
    def read(connection: Connection) -> tuple[set[str], list[object]]:
        context = MigrationContext.configure(connection)
        return set(inspect(connection).get_table_names()), compare_metadata(context, Base.metadata)

    return read_schema(url, read)


def test_the_migrated_schema_is_the_models_schema_and_the_unused_lease_table_is_gone(
        database: Database) -> None:
    tables, differences = _tables_and_differences(database.url)
    assert "scheduler_lease" not in tables
    assert differences == []


def test_the_lease_table_comes_back_on_downgrade_and_goes_again_on_upgrade(
        database: Database) -> None:
    config = alembic_config(database.url)
    command.downgrade(config, "0004")
    assert "scheduler_lease" in _tables_and_differences(database.url)[0]
    command.upgrade(config, "head")
    assert "scheduler_lease" not in _tables_and_differences(database.url)[0]
