"""`steadfast clinician add/edit --language --timezone`: a staff member's own language and
zone, checked before the database is opened, shown in `clinician list`; `audit show` reads
its times in the program's zone, labelled."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from storage.crypto import MasterKeyring
from tests.conftest import Database
from tests.reading import times_without_zone
from tests.test_audit_and_cli import cli


@pytest.fixture
def env(sqlite_database: Database, ring: MasterKeyring, tmp_path: Path) -> dict[str, str]:
    key_file = tmp_path / "steadfast.key"
    ring.create_file(key_file)
    return {"STEADFAST_DATABASE_URL": sqlite_database.url,
            "STEADFAST_MASTER_KEY_FILE": str(key_file),
            "STEADFAST_DEFAULT_TIMEZONE": "Europe/Madrid"}


def test_staff_language_and_zone_are_set_listed_and_put_back(env: dict[str, str],
                                                             tmp_path: Path) -> None:
    add = cli(["clinician", "add", "--telegram-id", "71", "--name", "Dra. Ruiz",
               "--language", "ES", "--timezone", "America/Bogota"], env, tmp_path)
    assert add.returncode == 0, add.stderr
    plain = cli(["clinician", "add", "--telegram-id", "72", "--name", "Dr Lane"], env,
                tmp_path)
    assert plain.returncode == 0, plain.stderr
    listed = cli(["clinician", "list"], env, tmp_path).stdout
    assert "language" in listed and "time zone" in listed
    ruiz = next(line for line in listed.splitlines() if "Dra. Ruiz" in line)
    lane = next(line for line in listed.splitlines() if "Dr Lane" in line)
    assert " es " in ruiz and "America/Bogota" in ruiz
    assert "es" not in lane.split() and "America/" not in lane  # the program's defaults

    edit = cli(["clinician", "edit", "--telegram-id", "72", "--language", "es",
                "--timezone", "Europe/Lisbon"], env, tmp_path)
    assert edit.returncode == 0, edit.stderr
    assert "language es, time zone Europe/Lisbon" in edit.stdout
    back = cli(["clinician", "edit", "--telegram-id", "71", "--language", "",
                "--timezone", ""], env, tmp_path)
    assert back.returncode == 0, back.stderr
    assert "language program default, time zone program default" in back.stdout
    nothing = cli(["clinician", "edit", "--telegram-id", "71"], env, tmp_path)
    assert nothing.returncode == 2 and "--language" in nothing.stderr
    assert "Traceback" not in nothing.stderr

    # The audit trail says what changed, at a time that names its zone.
    shown = cli(["audit", "show"], env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "clinician.locale" in shown.stdout
    assert times_without_zone(shown.stdout) == []
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} CES?T ", shown.stdout), shown.stdout
    assert not re.search(r"\d{2}:\d{2}:\d{2}Z", shown.stdout)


@pytest.mark.parametrize(("args", "said"), [
    (["--language", "fr"], "unknown language 'fr'; use one of: en, es"),
    (["--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
    (["--timezone", "../../etc/passwd"], "use an Area/City name such as Europe/Madrid"),
])
@pytest.mark.parametrize("command", ["add", "edit"])
def test_a_bad_language_or_zone_is_one_kind_line_and_exit_2(
        args: list[str], said: str, command: str, tmp_path: Path) -> None:
    """Refused before any database or key is needed (none is configured here)."""
    extra = ["--name", "X"] if command == "add" else []
    result = cli(["clinician", command, "--telegram-id", "73", *extra, *args], {}, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr
