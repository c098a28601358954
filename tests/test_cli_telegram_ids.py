"""A Telegram id on the command line is a 64-bit whole number: any other value is one clear
line and exit code 2 from every command that takes one, before the database is asked (a
24-digit id used to overflow there, with a traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from storage.crypto import MasterKeyring
from tests.conftest import Database
from tests.test_audit_and_cli import cli

TOO_LARGE = "99999999999999999999999"

COMMANDS = {
    "clinician add": ["clinician", "add", "--name", "Dr Lane", "--telegram-id"],
    "clinician edit": ["clinician", "edit", "--email", "", "--telegram-id"],
    "clinician deactivate": ["clinician", "deactivate", "--telegram-id"],
    "clinician role": ["clinician", "role", "--supervisor", "--telegram-id"],
    "client reassign": ["client", "reassign", "ABC-123", "--to"],
}


@pytest.fixture
def env(sqlite_database: Database, ring: MasterKeyring, tmp_path: Path) -> dict[str, str]:
    """A working database and key: a value that got past the option would reach them."""
    key_file = tmp_path / "steadfast.key"
    ring.create_file(key_file)
    return {"STEADFAST_DATABASE_URL": sqlite_database.url,
            "STEADFAST_MASTER_KEY_FILE": str(key_file)}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_telegram_id_past_64_bits_is_one_line_and_exit_2(
        command: str, env: dict[str, str], tmp_path: Path) -> None:
    result = cli([*COMMANDS[command], TOO_LARGE], env, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "Overflow" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: Invalid value for '{COMMANDS[command][-1]}': '{TOO_LARGE}' is "
                      "not a Telegram id (a whole number from 1 to 9223372036854775807)"]


@pytest.mark.parametrize("value", ["0", "-5", "9223372036854775808", "٣", "²", "1e3", "abc",
                                   ""])
def test_only_a_whole_number_from_1_to_2_63_is_a_telegram_id(value: str) -> None:
    """Checked by the option itself: no settings are needed to be refused."""
    result = CliRunner().invoke(main, ["clinician", "deactivate", "--telegram-id", value],
                                env={"STEADFAST_DATABASE_URL": ""})
    assert result.exit_code == 2, result.output
    assert "is not a Telegram id" in result.output


def test_the_largest_64_bit_id_is_accepted_and_reaches_the_database(
        env: dict[str, str], tmp_path: Path) -> None:
    largest = str(2**63 - 1)
    added = cli([*COMMANDS["clinician add"], largest], env, tmp_path)
    assert added.returncode == 0, added.stderr
    assert f"Telegram {largest}" in added.stdout
    role = cli([*COMMANDS["clinician role"], largest], env, tmp_path)
    assert role.returncode == 0 and "is now a supervisor" in role.stdout, role.stderr
