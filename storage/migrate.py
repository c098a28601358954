"""Apply Alembic migrations programmatically (used by `steadfast db upgrade` and `run`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

if TYPE_CHECKING:
    from storage.crypto import MasterKeyring

MIGRATIONS = Path(__file__).with_name("migrations")


def _only_upgrades(record: logging.LogRecord) -> bool:
    """Of Alembic's INFO lines an operator needs the migrations applied, not its set-up."""
    return record.levelno > logging.INFO or record.getMessage().startswith("Running ")


logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
logging.getLogger("alembic.runtime.migration").addFilter(_only_upgrades)


def alembic_config(database_url: str, ring: MasterKeyring | None = None) -> Config:
    """`ring`: the master keys, for a migration that seals or opens stored values (0009);
    one that meets such values without them stops and says so."""
    config = Config()
    if ring is not None:
        config.attributes["keyring"] = ring
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would treat a % in a password as syntax.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head", *,
            ring: MasterKeyring | None = None) -> None:
    """Bring the schema up to date. Blocking: call it outside a running event loop,
    or through asyncio.to_thread."""
    command.upgrade(alembic_config(database_url, ring), revision)


def revision(database_url: str, message: str) -> None:
    command.revision(alembic_config(database_url), message=message, autogenerate=True,
                     rev_id=None)
