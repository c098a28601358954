"""A stolen backup, read without the master key, says nothing about a person: no client's
Telegram account, no risk level of a day or an alert, no staff name beside a client code.

The program is populated through its services (invites and the enrolment steps, a wrong
code, someone still mid-enrolment, two weeks of check-ins and alerts, a critical day whose
alert is acknowledged, a prompt, a supervisor's views), backed up with `steadfast db
backup`, and the copy is read as a thief would: every column of every table (SQLite through
plain sqlite3; PostgreSQL's dump through pg_restore's plain SQL)."""

from __future__ import annotations

import asyncio
import random
import re
import sqlite3
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.composition import build_services
from app.settings import Settings
from journal.alerts.levels import LEVELS
from journal.clock import FakeClock
from journal.review.seed import PLAN, daily_answers, seed_history
from storage.crypto import MasterKeyring
from storage.models import Base
from storage.records import Clinician
from storage.uow import Store
from tests.conftest import Database
from tests.helpers import make_clinician
from tests.test_audit_and_cli import cli

CLIENTS = (7_310_004_211, 7_310_009_385)
ENROLLING = 7_310_007_777  # opened an invite and agreed, then stopped
STAFF = ((6_120_000_501, "Dr Imelda Whitfield", "clinician"),
         (6_120_000_502, "Dr Oskar Brandvold", "supervisor"))
Tables = dict[str, tuple[list[str], list[tuple[Any, ...]]]]


async def _populate(store: Store, settings: Settings, clock: FakeClock
                    ) -> tuple[list[str], list[Clinician]]:
    """Returns the client codes and the staff."""
    services = build_services(settings, store, clock)
    staff = [await make_clinician(store, clock, telegram_id=tid, name=name, role=role)
             for tid, name, role in STAFF]
    lane, supervisor = staff
    enrol = services.enrolment
    codes = []
    for telegram_id in (*CLIENTS, ENROLLING):
        async with store.transaction() as uow:
            invite = await enrol.create_invite(uow, lane, note="met at intake")
        async with store.transaction() as uow:  # a mistyped code first
            assert (await enrol.open_invite(uow, telegram_id, "not-the-code", "en")).problem
        async with store.transaction() as uow:
            assert (await enrol.open_invite(uow, telegram_id, invite.code, "en")).step
        async with store.transaction() as uow:
            await enrol.agree(uow, telegram_id)
        if telegram_id == ENROLLING:
            continue
        async with store.transaction() as uow:
            await enrol.choose_language(uow, telegram_id, "en")
        async with store.transaction() as uow:
            await enrol.choose_timezone(uow, telegram_id, "Europe/Madrid")
        async with store.transaction() as uow:
            await enrol.choose_time(uow, telegram_id, "20:00")
        codes.append(invite.client_code)

    async with store.unit_of_work() as uow:
        sam, ana = [await uow.clients.by_telegram_id(tid) for tid in CLIENTS]
    assert sam is not None and ana is not None
    today = clock.now().date()
    await seed_history(store, services.questionnaire, services.rules, sam, end=today,
                       days=14, high_risk_every=3)
    # Ana's critical day: self-harm thoughts, submitted through the alert service's rules.
    answers = daily_answers(random.Random(3), today, PLAN, high_risk=True, note="")
    answers["self_harm"] = True
    async with store.transaction() as uow:
        checkin = await uow.checkins.create(
            client_id=ana.id, local_date=today, status="submitted",
            questionnaire_id=services.questionnaire.id,
            questionnaire_version=str(services.questionnaire.version),
            item_ids=list(answers), now=clock.now())
        assessment = await services.alerts.on_submit(uow, ana, checkin, answers)
    assert assessment.level == "critical"
    async with store.transaction() as uow:
        alerts = await uow.alerts.for_checkin(checkin.id)
        await services.alerts.acknowledge(uow, lane, alerts[0].id)
    clock.advance(timedelta(days=1))
    async with store.transaction() as uow:  # a prompt waits in the outbox for Sam's chat
        assert await services.checkins.prompt(uow, sam)
    async with store.transaction() as uow:  # the supervisor looks
        await services.caseload.caseload(uow, supervisor)
        await services.review.summary(uow, supervisor, ana.code)
    return codes, staff


async def _check_it_is_all_there(store: Store, codes: list[str]) -> None:
    """With the key, the same database holds what the thief must not see."""
    async with store.unit_of_work() as uow:
        clients = [await uow.clients.by_code(code) for code in codes]
        assert [c.telegram_id for c in clients if c is not None] == list(CLIENTS)
        ana = clients[1]
        assert ana is not None
        days = await uow.checkins.days(ana.id)
        assert "critical" in [d.risk_level for d in days]
        alerts = await uow.alerts.recent(ana.id, since=ana.created_at)
        assert any(a.level == "critical" and a.acknowledged_by for a in alerts)
        assert await uow.conversations.get(ENROLLING) is not None


def _sqlite_tables(path: Path) -> Tables:
    connection = sqlite3.connect(path)
    try:
        tables: Tables = {}
        names = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        for name in names:
            cursor = connection.execute(f'SELECT * FROM "{name}"')
            tables[name] = ([d[0] for d in cursor.description], cursor.fetchall())
        return tables
    finally:
        connection.close()


def _dump_tables(dump: str) -> Tables:
    """The COPY blocks of pg_restore's plain SQL: every column of every row, as text;
    bytea's hex read back into bytes."""
    tables: Tables = {}
    lines = iter(dump.splitlines())
    for line in lines:
        header = re.match(r"^COPY public\.(\w+) \((.*)\) FROM stdin;$", line)
        if header is None:
            continue
        columns = [c.strip().strip('"') for c in header.group(2).split(",")]
        rows = []
        for row in lines:
            if row == "\\.":
                break
            values: list[Any] = []
            for value in row.split("\t"):
                if value == "\\N":
                    values.append(None)
                elif value.startswith("\\\\x"):
                    values.append(bytes.fromhex(value[3:]))
                else:
                    values.append(value)
            rows.append(tuple(values))
        tables[header.group(1)] = (columns, rows)
    return tables


_WORD = re.compile(r"\b(" + "|".join(LEVELS) + r")\b", re.IGNORECASE)


def _findings(tables: Tables, codes: list[str]) -> list[str]:
    found = []
    names = [name for _, name, _ in STAFF]
    for table, (columns, rows) in tables.items():
        for row in rows:
            texts = []
            for column, value in zip(columns, row, strict=True):
                where = f"{table}.{column}"
                if isinstance(value, bytes):
                    for tid in CLIENTS + (ENROLLING,):
                        if (str(tid).encode() in value or tid.to_bytes(8, "big") in value
                                or tid.to_bytes(8, "little") in value):
                            found.append(f"{where}: a client's Telegram id in a blob")
                    for level in LEVELS:  # a level word as JSON or text would carry it
                        if f'"{level}"'.encode() in value or (
                                len(level) > 4 and level.encode() in value):
                            found.append(f"{where}: {level!r} in a blob")
                    texts.append(value.decode("latin-1"))
                    continue
                text = "" if value is None else str(value)
                texts.append(text)
                for tid in CLIENTS + (ENROLLING,):
                    if str(tid) in text:
                        found.append(f"{where}: a client's Telegram id ({text[:40]!r})")
                match = _WORD.search(text)
                if match:
                    found.append(f"{where}: the level word {match.group(0)!r} ({text[:60]!r})")
            whole = "\t".join(texts)
            if any(code in whole for code in codes) and any(n in whole for n in names):
                found.append(f"{table}: a staff name beside a client code ({whole[:80]!r})")
    # Who viewed whom is a join away when an audit event names its actor and its client in
    # plaintext: the client's id leads to the code, a clinician's id to the name.
    columns, rows = tables["audit_events"]
    client_ids = {str(row[tables["clients"][0].index("id")]) for row in tables["clients"][1]}
    for row in rows:
        plain = [str(v) for v in row if v is not None and not isinstance(v, bytes)]
        if any(v in client_ids for v in plain):
            found.append(f"audit_events: an event names a client's id ({plain[:4]!r})")
        if any(v.startswith(("clinician:", "client:")) for v in plain):
            found.append(f"audit_events: an event names who acted ({plain[:4]!r})")
    return found


async def test_a_backup_read_without_the_key_names_no_client_and_no_level(
        database: Database, store: Store, ring: MasterKeyring, clock: FakeClock,
        tmp_path: Path) -> None:
    key_file = tmp_path / "steadfast.key"
    ring.create_file(key_file)
    settings = Settings(_env_file=None, bot_token="123456:TEST-TOKEN",  # type: ignore[call-arg]
                        database_url=database.url, master_key_file=key_file,
                        default_timezone="Europe/Madrid")
    codes, _staff = await _populate(store, settings, clock)
    await _check_it_is_all_there(store, codes)

    target = tmp_path / "stolen.backup"
    env = {"STEADFAST_DATABASE_URL": database.url, "STEADFAST_MASTER_KEY_FILE": str(key_file)}
    made = await asyncio.to_thread(cli, ["db", "backup", str(target)], env, tmp_path)
    assert made.returncode == 0, made.stderr
    key_file.unlink()  # the thief has the backup, not the key

    if database.kind == "sqlite":
        tables = _sqlite_tables(target)
    else:
        dump = subprocess.run(["pg_restore", "--file=-", str(target)], capture_output=True,
                              timeout=60, check=True).stdout.decode()
        tables = _dump_tables(dump)
    # Every column of every table was read, and the rows are there to be read.
    read = sorted(f"{t}.{c}" for t, (columns, _) in tables.items() for c in columns)
    wanted = sorted(f"{t.name}.{c.name}" for t in Base.metadata.sorted_tables for c in t.columns)
    assert set(wanted) <= set(read), sorted(set(wanted) - set(read))
    print(f"read {len(read)} columns:", ", ".join(read))
    for table in ("clients", "clinicians", "checkins", "alerts", "alert_copies", "outbox",
                  "conversations", "enrolment_attempts", "invites", "audit_events"):
        assert tables[table][1], f"{table} is empty: the story did not reach it"

    assert _findings(tables, codes) == []
