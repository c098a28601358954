"""`steadfast appointment add`: an appointment from the command line, in the client's own
time, the place sealed; mistakes answered in one line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from journal.clock import FakeClock
from storage.crypto import MasterKeyring
from storage.models import AppointmentRow
from storage.uow import Store
from tests.conftest import Database
from tests.helpers import make_clinician
from tests.stories import enrolled_client
from tests.test_audit_and_cli import cli


async def test_an_appointment_is_added_in_the_clients_zone_with_its_place_sealed(
        sqlite_database: Database, ring: MasterKeyring, tmp_path: Path) -> None:
    key_file = tmp_path / "steadfast.key"
    ring.create_file(key_file)
    env = {"STEADFAST_DATABASE_URL": sqlite_database.url,
           "STEADFAST_MASTER_KEY_FILE": str(key_file)}
    clock = FakeClock(datetime.now(UTC))
    store = Store.open(sqlite_database.url, ring)
    try:
        lane = await make_clinician(store, clock)
        client = await enrolled_client(store, clock, lane, 8301, timezone="America/New_York")
    finally:
        await store.close()
    # 2099-07-01 09:30 in New York (summer time, UTC-4) is 13:30 UTC.
    added = cli(["appointment", "add", client.code.lower(), "--kind", "polygraph", "--at",
                 "2099-07-01 09:30", "--place", "Examiner's office, 3rd floor"], env, tmp_path)
    assert added.returncode == 0, added.stderr
    assert "2099-07-01 13:30 UTC" in added.stdout and "office" not in added.stdout
    online = cli(["appointment", "add", client.code, "--kind", "court", "--at",
                  "2099-07-02 10:00", "--online"], env, tmp_path)
    assert online.returncode == 0, online.stderr
    for args, code, words in (
            (["--kind", "dentist", "--at", "2099-07-01 09:30"], 1, "kind"),
            (["--kind", "court", "--at", "tomorrow"], 2, "YYYY-MM-DD HH:MM"),
            (["--kind", "court", "--at", "2001-07-01 09:30"], 1, "past"),
            (["--kind", "court", "--at", "2099-07-01 09:30", "--online", "--place", "x"], 2,
             "not both")):
        wrong = cli(["appointment", "add", client.code, *args], env, tmp_path)
        assert wrong.returncode == code and words in wrong.stderr, wrong.stderr
        assert "Traceback" not in wrong.stderr
    unknown = cli(["appointment", "add", "ZZZ-ZZ", "--kind", "court", "--at",
                   "2099-07-01 09:30"], env, tmp_path)
    assert unknown.returncode == 1 and "ZZZ-ZZ" in unknown.stderr
    store = Store.open(sqlite_database.url, ring)
    try:
        async with store.unit_of_work() as uow:
            rows = list(await uow.session.scalars(select(AppointmentRow)
                                                  .order_by(AppointmentRow.starts_at)))
            assert [r.kind for r in rows] == ["polygraph", "court"]
            assert rows[0].starts_at == datetime(2099, 7, 1, 13, 30, tzinfo=UTC)
            assert b"office" not in (rows[0].place_ct or b"") and rows[1].online
            assert (await uow.appointments.get(rows[0].id)).place == (  # type: ignore[union-attr]
                "Examiner's office, 3rd floor")
            actions = [e.action for e in await uow.audit_events(client_id=client.id)]
            assert actions.count("appointment.add") == 2
    finally:
        await store.close()
