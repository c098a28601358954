"""The program's treatment phases: the packaged default, a file with errors, the start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from journal.alerts.rules_file import load_rules
from journal.checkin.questionnaire_file import load_questionnaire
from journal.phases.file import PhasesError, load_phases, parse_phases
from tests.test_audit_and_cli import cli

Q = load_questionnaire()
RULES = load_rules(questionnaire=Q)


def test_the_default_has_four_phases_from_daily_to_one_day_each_named_in_both_languages() -> None:
    phases = load_phases(questionnaire=Q, rules=RULES)
    assert [p.id for p in phases.phases] == ["intensive", "structured", "consolidation",
                                             "maintenance"]
    assert [p.days for p in phases.phases] == ["0123456", "01234", "024", "2"]
    assert all(p.name.texts["en"] and p.name.texts["es"] for p in phases.phases)
    assert phases.phases[-1].step_down is None and phases.phases[-1].reminder is False
    first = phases.first.step_down
    assert first is not None and first.min_days == 60 and first.min_adherence == 0.85
    assert phases.of(None) is phases.first and phases.of("renamed") is phases.first
    assert phases.step_up_from("consolidation") is phases.of("structured")
    assert phases.step_up_from("intensive") is None
    assert phases.steps_up_on("critical", []) and phases.steps_up_on("high", ["LAPSE"])
    assert not phases.steps_up_on("high", ["HIGH_RISK_SITUATION"])


BAD = '''
id = ""
version = 0
colour = "blue"

[step_up]
alert_at_or_above = "severe"
alert_reasons = ["NO_SUCH_REASON"]
to = "sideways"

[[phases]]
id = "Daily"
name = { en = "Daily" }

[[phases]]
id = "busy"
name = { en = "Busy" }
days = "someday"
reminder = "yes"
thresholds = { no_such_rule = 3 }
sections = ["no_such_domain"]
officer_report_days = -1
[phases.step_down]
min_adherence = 1.5
no_alert_at_or_above = "high"
rating_at_most = 3
speed = 1

[[phases]]
id = "last"
name = { en = "Last", es = "Última" }
days = "one_day"
[phases.step_down]
min_days = 10
'''


def test_a_phases_file_with_errors_names_every_one_of_them_at_once(tmp_path: Path) -> None:
    bad = tmp_path / "phases.toml"
    bad.write_text(BAD, encoding="utf-8")
    with pytest.raises(PhasesError) as caught:
        load_phases(bad, questionnaire=Q, rules=RULES)
    problems = caught.value.problems
    expected = ["unknown top-level key 'colour'", "phases id must be", "version must be",
                "phase 1: id must be", "phase 'busy': name has no 'es' text",
                "days 'someday'", "reminder must be true or false", "'no_such_rule': no such rule",
                "section 'no_such_domain'", "officer_report_days", "min_adherence must be",
                "no_alert_at_or_above and no_alert_days go together", "rating_at_most must be",
                "unknown key 'speed'", "phase 'last': the last phase has no step_down",
                "alert_at_or_above must be", "'NO_SUCH_REASON' is not in the risk rules",
                "to must be"]
    for words in expected:
        assert any(words in p for p in problems), (words, problems)
    assert str(caught.value).startswith(f"{len(problems)} problems:")


def test_a_phase_that_is_not_last_must_say_what_stepping_down_asks() -> None:
    with pytest.raises(PhasesError) as caught:
        parse_phases({"id": "p", "version": 1, "phases": [
            {"id": "a", "name": {"en": "A", "es": "A"}, "days": "every_day"},
            {"id": "b", "name": {"en": "B", "es": "B"}, "days": "mon,thu"}]})
    assert caught.value.problems == ["phase 'a': [phases.step_down] is missing (only the last "
                                     "phase has none)"]
    two = parse_phases({"id": "p", "version": 1, "phases": [
        {"id": "a", "name": {"en": "A", "es": "A"}, "days": "every_day",
         "step_down": {"min_days": 3}},
        {"id": "b", "name": {"en": "B", "es": "B"}, "days": "mon,thu"}]})
    assert two.phases[1].days == "03"


def test_the_bot_does_not_start_with_a_phases_file_with_errors(tmp_path: Path) -> None:
    bad = tmp_path / "phases.toml"
    bad.write_text(BAD, encoding="utf-8")
    result = cli(["run"], {"STEADFAST_PHASES": str(bad), "STEADFAST_BOT_TOKEN": "123:abc"},
                 tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "problems:" in result.stderr
    assert "'busy'" in result.stderr and "NO_SUCH_REASON" in result.stderr
    assert "'no_such_rule'" in result.stderr and "sideways" not in result.stdout


async def test_a_run_of_missed_days_steps_a_client_up_by_rule_and_the_next_due_day_is_prompted(
        store: Any, tmp_path: Path) -> None:
    from datetime import UTC, date, datetime, timedelta

    from app.composition import build_services
    from app.settings import Settings
    from journal.clock import FakeClock
    from scheduler.ticks import Ticks
    from tests.helpers import make_clinician

    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))  # Sunday
    ring_key = tmp_path / "steadfast.key"
    from storage.crypto import MasterKeyring

    MasterKeyring.generate().create_file(ring_key)
    settings = Settings(_env_file=None, bot_token="123456:T",  # type: ignore[call-arg]
                        database_url="sqlite+aiosqlite:///unused.db", master_key_file=ring_key)
    services = build_services(settings, store, clock)
    ticks = Ticks(store=store, clock=clock, checkins=services.checkins, alerts=services.alerts,
                  reminder_delay=None, phases=services.phases.phases)
    lane = await make_clinician(store, clock, telegram_id=7001)
    async with store.transaction() as uow:
        client = await uow.clients.add_invited(clinician_id=lane.id, language="en",
                                               timezone="UTC", checkin_time="09:00",
                                               now=clock.now())
        client = await uow.clients.update(
            client.id, telegram_id=8001, status="active", enrolled_at=clock.now(),
            phase="consolidation", phase_since=clock.now(), checkin_days="024")

    async def run_until(moment: datetime) -> None:
        while clock.now() < moment:
            clock.advance(hours=1)
            assert (await ticks.run()).failures == 0

    # Monday and Wednesday missed (Tuesday was not due): the run steps the client up when
    # Wednesday's window closes at 21:00, from three days a week to weekdays.
    await run_until(datetime(2026, 3, 4, 22, 0, tzinfo=UTC))
    async with store.unit_of_work() as uow:
        moved = await uow.clients.get(client.id)
        steps = await uow.phases.steps(client.id)
        statuses = await uow.checkins.statuses(client.id, since=date(2026, 3, 1))
    assert sorted(statuses) == [date(2026, 3, 2), date(2026, 3, 4)]
    assert moved is not None and moved.phase == "structured" and moved.checkin_days == "01234"
    assert [(s.direction, s.state, s.trigger) for s in steps] == [
        ("up", "applied", "rule:MISSED_CHECKINS")]
    assert steps[0].criteria["phase"] == "consolidation"
    # Thursday was not due on three days a week; now it is, and its prompt comes at once.
    await run_until(datetime(2026, 3, 5, 10, 0, tzinfo=UTC))
    async with store.unit_of_work() as uow:
        statuses = await uow.checkins.statuses(client.id, since=date(2026, 3, 1))
    assert statuses.get(date(2026, 3, 5)) == "prompted"
    assert clock.now() - datetime(2026, 3, 1, 12, 0, tzinfo=UTC) > timedelta(days=3)
