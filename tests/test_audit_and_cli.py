"""The audit trail and the administrator's command line, run as a real process."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from journal.clock import FakeClock
from storage.audit import CheckpointFile
from storage.crypto import MasterKeyring
from storage.models import AuditEventRow
from storage.uow import Store
from tests.conftest import Database

STEADFAST = [sys.executable, "-m", "cli"]


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("STEADFAST_")}
    full_env.update(env)
    full_env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    return subprocess.run(STEADFAST + args, env=full_env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def keyed_env(database: Database, ring: MasterKeyring, tmp_path: Path) -> dict[str, str]:
    key_file = tmp_path / "steadfast.key"
    ring.create_file(key_file)
    return {"STEADFAST_DATABASE_URL": database.url, "STEADFAST_MASTER_KEY_FILE": str(key_file)}


async def _five_events(store: Store, clock: FakeClock) -> None:
    for n in range(5):
        async with store.transaction() as uow:
            await uow.audit(at=clock.advance(minutes=1), actor="clinician:1",
                            action="client.view", detail=f"view {n}")


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder", "truncate"])
async def test_audit_verify_names_the_first_broken_link(
        tamper: str, store: Store, clock: FakeClock, keyed_env: dict[str, str],
        tmp_path: Path) -> None:
    key_file = Path(keyed_env["STEADFAST_MASTER_KEY_FILE"])  # kept where the command looks
    store.audit_checkpoint = CheckpointFile(key_file.with_name(key_file.name
                                                               + ".audit-checkpoint"))
    await _five_events(store, clock)
    ok = cli(["audit", "verify"], keyed_env, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "intact: 5 events" in ok.stdout

    async with store.transaction() as uow:
        if tamper == "edit":
            await uow.session.execute(update(AuditEventRow).where(AuditEventRow.seq == 3)
                                      .values(action="nothing.to_see"))
        elif tamper == "delete":
            await uow.session.execute(delete(AuditEventRow).where(AuditEventRow.seq == 3))
        elif tamper == "reorder":
            await uow.session.execute(update(AuditEventRow).where(AuditEventRow.seq == 3)
                                      .values(seq=-3))
            await uow.session.execute(update(AuditEventRow).where(AuditEventRow.seq == 4)
                                      .values(seq=3))
            await uow.session.execute(update(AuditEventRow).where(AuditEventRow.seq == -3)
                                      .values(seq=4))
        else:
            await uow.session.execute(delete(AuditEventRow).where(AuditEventRow.seq == 5))
    broken = cli(["audit", "verify"], keyed_env, tmp_path)
    assert broken.returncode == 1
    expected = {"edit": 3, "delete": 3, "reorder": 3, "truncate": 5}[tamper]
    assert f"broken at event {expected}" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_help_lists_every_admin_command_without_importing_aiogram(tmp_path: Path) -> None:
    probe = ("import sys; from cli import main\n"
             "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print('AIOGRAM' if 'aiogram' in sys.modules else 'CLEAN')")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=tmp_path, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert out.stdout.strip().endswith("CLEAN"), out.stdout
    for command in ("db", "clinician", "keys", "client", "audit", "outbox"):
        assert f"  {command} " in out.stdout
    for group, subs in {"keys": ["generate", "rotate", "retire"], "clinician": ["add", "list"],
                        "client": ["erase"], "audit": ["verify"], "db": ["upgrade"]}.items():
        shown = cli([group, "--help"], {}, tmp_path)
        assert shown.returncode == 0
        for sub in subs:
            assert sub in shown.stdout


def test_keys_generate_writes_a_private_file_and_refuses_to_overwrite(tmp_path: Path) -> None:
    env = {"STEADFAST_MASTER_KEY_FILE": str(tmp_path / "k.key")}
    first = cli(["keys", "generate"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    mode = stat.S_IMODE((tmp_path / "k.key").stat().st_mode)
    assert mode == 0o600
    before = (tmp_path / "k.key").read_bytes()
    again = cli(["keys", "generate"], env, tmp_path)
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr
    assert (tmp_path / "k.key").read_bytes() == before
    first_id = MasterKeyring.parse(before.decode()).primary_id
    assert re.fullmatch(r"k-\d{8}-[0-9a-f]{8}", first_id)
    other = cli(["keys", "generate", "--file", str(tmp_path / "other.key")], env, tmp_path)
    assert other.returncode == 0, other.stderr
    assert first_id in first.stdout  # the operator is told which key was written
    # Two installations (or a rotation) never share a key id, so a wrong file is told
    # apart from a missing key.
    assert MasterKeyring.load_file(tmp_path / "other.key").primary_id != first_id


@pytest.mark.parametrize(("name", "value"), [
    ("STEADFAST_DEFAULT_TIMEZONE", "Mars/Olympus"),
    ("STEADFAST_DATABASE_URL", "mysql://nope"),
    ("STEADFAST_BOT_TOKEN", "not-a-token"),
    ("STEADFAST_TELEGRAM_API_URL", "ftp://x"),
])
def test_an_invalid_setting_gives_one_line_naming_it_and_exit_2(
        name: str, value: str, tmp_path: Path) -> None:
    result = cli(["clinician", "list"], {name: value}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0]
    assert value not in lines[0] or name != "STEADFAST_BOT_TOKEN"  # never echo a secret


def test_a_missing_key_file_is_one_clear_line(tmp_path: Path) -> None:
    result = cli(["clinician", "list"], {
        "STEADFAST_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db",
        "STEADFAST_MASTER_KEY_FILE": str(tmp_path / "missing.key")}, tmp_path)
    assert result.returncode == 2
    assert "steadfast keys generate" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.startswith("steadfast: STEADFAST_MASTER_KEY_FILE")


def test_admin_flow_from_the_command_line(keyed_env: dict[str, str], tmp_path: Path) -> None:
    add = cli(["clinician", "add", "--telegram-id", "77", "--name", "Dr Ortiz", "--supervisor"],
              keyed_env, tmp_path)
    assert add.returncode == 0, add.stderr
    dup = cli(["clinician", "add", "--telegram-id", "77", "--name", "Dr Ortiz"], keyed_env, tmp_path)
    assert dup.returncode == 1 and "exists" in dup.stderr
    bad = cli(["clinician", "add", "--telegram-id", "abc", "--name", "X"], keyed_env, tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    listed = cli(["clinician", "list"], keyed_env, tmp_path)
    assert "Dr Ortiz" in listed.stdout and "supervisor" in listed.stdout
    key_file = Path(keyed_env["STEADFAST_MASTER_KEY_FILE"])
    old_id = MasterKeyring.load_file(key_file).primary_id
    rotate = cli(["keys", "rotate"], keyed_env, tmp_path)
    assert rotate.returncode == 0, rotate.stderr
    new_id = MasterKeyring.load_file(key_file).primary_id
    assert new_id != old_id
    status = cli(["keys", "status"], keyed_env, tmp_path)
    assert f"{new_id} (primary)" in status.stdout
    assert "open every data key" in status.stdout and status.returncode == 0
    retire = cli(["keys", "retire", old_id], keyed_env, tmp_path)
    assert retire.returncode == 0, retire.stderr
    retire_primary = cli(["keys", "retire", new_id], keyed_env, tmp_path)
    assert retire_primary.returncode == 1 and "primary" in retire_primary.stderr
    erase = cli(["client", "erase", "ZZZ-99", "--yes"], keyed_env, tmp_path)
    assert erase.returncode == 1 and "no client" in erase.stderr
    verify = cli(["audit", "verify"], keyed_env, tmp_path)
    assert verify.returncode == 0 and "intact" in verify.stdout


def test_retiring_a_master_key_that_still_wraps_data_keys_is_refused(
        keyed_env: dict[str, str], tmp_path: Path) -> None:
    assert cli(["clinician", "add", "--telegram-id", "8", "--name", "Dr A"], keyed_env,
               tmp_path).returncode == 0  # creates the audit key
    key_file = Path(keyed_env["STEADFAST_MASTER_KEY_FILE"])
    old_id = MasterKeyring.load_file(key_file).primary_id
    # An operator added a new primary by hand but never re-wrapped: the old key is in use.
    key_file.write_text(MasterKeyring.parse(key_file.read_text()).with_new_primary().dump())
    refused = cli(["keys", "retire", old_id], keyed_env, tmp_path)
    assert refused.returncode == 1 and "still wraps" in refused.stderr
    assert old_id in MasterKeyring.parse(key_file.read_text()).ids


async def test_outbox_status_counts_dead_letters_and_exits_1_when_any(
        store: Store, clock: FakeClock, keyed_env: dict[str, str], tmp_path: Path) -> None:
    from storage.models import OutboxRow

    async with store.transaction() as uow:
        for _ in range(2):
            await uow.outbox.add(chat_id=1, kind="notice", method="sendMessage",
                                 params={"text": "x"}, now=clock.now())
    healthy = cli(["outbox", "status"], keyed_env, tmp_path)
    assert healthy.returncode == 0 and "queued: 2" in healthy.stdout
    async with store.transaction() as uow:
        first = (await uow.outbox.claim_due(clock.now(), limit=1, lease=clock.now() - clock.now()))
        await uow.outbox.mark_retry(first[0].id, at=clock.now(), error="500", dead=True)
        assert await uow.session.get(OutboxRow, first[0].id) is not None
    broken = cli(["outbox", "status"], keyed_env, tmp_path)
    assert broken.returncode == 1
    assert "queued: 1" in broken.stdout and "dead: 1" in broken.stdout


def test_run_refuses_a_questionnaire_with_errors_naming_every_item(tmp_path: Path) -> None:
    bad = tmp_path / "checkin.toml"
    bad.write_text('''id = "p"
version = 1
languages = ["en", "es"]

[[items]]
id = "mood"
kind = "scael"
text = { en = "How are you?", es = "¿Cómo estás?" }

[[items]]
id = "sleep"
kind = "yesno"
text = { en = "Did you sleep?" }
when = { item = "nowhere", equals = true }
''', encoding="utf-8")
    result = cli(["run"], {"STEADFAST_QUESTIONNAIRE": str(bad),
                           "STEADFAST_BOT_TOKEN": "123:abc"}, tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "'mood'" in result.stderr and "'sleep'" in result.stderr
    assert "nowhere" in result.stderr and "es" in result.stderr
