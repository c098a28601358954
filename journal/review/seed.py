"""Seeding a client's history straight through the repositories, in the check-in service's
stored format: for review tests, the benches and `steadfast demo --web` (a year takes
seconds this way, where a year of scripted check-ins would take hours).

Not used by the running bot: everything written here is invented, and only a demo or a
test database ever receives it."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from journal.alerts.rules import DaySnapshot, RiskRules, evaluate
from journal.alerts.service import stored_scores
from journal.checkin.flow import SKIPPED, CheckInState, Stored
from journal.checkin.questionnaire import Answer, Questionnaire, plan_option_key
from storage.records import Client, Plan, PlanItem
from storage.uow import Store

PLAN = Plan.with_parts(
    "", cycle=(PlanItem("Staying up late online", (("stage", "build_up"),)),
               PlanItem("Feeling lonely", (("stage", "build_up"),)),
               PlanItem("Thinking no one would know", (("stage", "thinking_errors"),))),
    situations=(PlanItem("Alone at home at night", (("avoid", "Plan the evening"),
                                                    ("escape", "Go out for a walk"))),),
    coping=("Call my sponsor", "Go for a walk", "Leave the place"),
    controls=("No contact with minors", "Home before ten every night"),
    support=(PlanItem("Ana", (("role", "sister"), ("when", "evenings"))),
             PlanItem("Group on Thursdays", (("role", "group"),))),
    goals=(PlanItem("A steady job", (("next", "Finish the course"),)),),
    at_risk=("Leave the place", "Breathe slowly", "Call Ana"),
    first_call=(PlanItem("Ana", (("reach", "600 000 000"),)),))


@dataclass
class Seeded:
    """What was written, so tests can look for it in views and reports."""

    days: dict[date, str] = field(default_factory=dict)  # submitted | missed
    situations: dict[date, str] = field(default_factory=dict)  # the high-risk detail
    notes: dict[date, str] = field(default_factory=dict)  # the check-in journal note
    journal: list[tuple[datetime, str]] = field(default_factory=list)
    alerts: int = 0
    acknowledged: dict[str, timedelta] = field(default_factory=dict)  # alert id: delay


# What a clinician wrote on acknowledging a seeded alert (one is picked by the day).
ACK_NOTES = ("Phoned the client; went over the coping steps in the plan.",
             "Seen in group the next morning; no further action.",
             "Called, no answer; left a message and called back within the hour.")


def daily_answers(rng: random.Random, day: date, plan: Plan, *, high_risk: bool,
                  note: str | None, strain: float = 0.0) -> dict[str, Answer]:
    """One plausible, complete set of answers to the default check-in.

    `strain` (0 to 1) tilts the answers toward a harder day, so a seeded year can rise and
    fall like a real one; at 0 the answers are what they always were for a seed (the same
    random draws, in the same order)."""
    answers: dict[str, Answer] = {
        "victim_access": rng.choices(["no", "left", "stayed"], [90, 8 + 20 * strain, 2])[0],
        "anger": min(10, rng.randint(0, 8) + round(3 * strain)),
        "sexual_thoughts": rng.choices(["none", "some", "a_lot"],
                                       [60 - 40 * strain, 35, 5 + 25 * strain])[0],
    }
    if answers["sexual_thoughts"] != "none":
        answers["offending_thoughts"] = rng.random() < 0.05
    answers.update({
        "supervision": rng.choices(["no", "wanted", "did"], [90, 8, 2])[0],
        "coping": max(0, rng.randint(3, 10) - round(4 * strain)),
        "self_harm": rng.random() < 0.01,
        "social_support": rng.choices(["no", "some", "serious"],
                                      [75 - 30 * strain, 20 + 20 * strain, 5 + 10 * strain])[0],
        "substances": rng.choices(["none", "within", "against"],
                                  [80 - 30 * strain, 17 + 20 * strain, 3 + 10 * strain])[0],
        "high_risk": high_risk,
    })
    if high_risk:
        answers["high_risk_detail"] = f"Situation on {day:%d %b}: walked past the park and left"
    answers["suds"] = tuple(rng.sample(["route", "online_late", "alone"], rng.randint(0, 2)))
    answers["lapse"] = rng.random() < 0.03
    if answers["lapse"]:
        answers["blown_it"] = rng.randint(0, 10)
    steps = [plan_option_key(step) for step in plan.coping_steps]
    chosen = tuple(rng.sample(steps, rng.randint(0, len(steps)))) if steps else ()
    if high_risk and not chosen and steps:
        chosen = (steps[0],)
    answers["coping_steps"] = tuple(k for k in steps if k in chosen)
    if answers["coping_steps"]:
        answers["coping_effect"] = rng.randint(2, 10)
    answers["confidence"] = max(0, rng.randint(4, 10) - round(4 * strain))
    answers["good_life"] = tuple(rng.sample(["work", "relationships", "health"], 1))
    answers["journal_note"] = note if note else SKIPPED
    return answers


async def seed_history(store: Store, q: Questionnaire, rules: RiskRules, client: Client, *,
                       end: date, days: int, plan: Plan = PLAN, seed: int = 7,
                       missed_every: int = 9, high_risk_every: int = 5,
                       journal_every: int = 2, note_every: int = 3,
                       strain: Callable[[date], float] | None = None,
                       varied_acks: bool = False) -> Seeded:
    """`days` local days of history ending with `end`: check-ins (some missed), alerts for
    the days the rules flag (all but the last three days' acknowledged; with
    `varied_acks` after delays that vary and with a note, as staff would), journal entries
    and check-in notes. Commits in batches.

    `strain(day)` (0 to 1) shapes harder and easier stretches, so a demo's charts show a
    trend; without it every day is drawn alike."""
    rng = random.Random(seed)
    zone = ZoneInfo(client.timezone)
    seeded = Seeded()
    async with store.transaction() as uow:
        await uow.plans.put(replace(plan, client_id=client.id), by=None,
                            now=datetime.combine(end - timedelta(days=days), time(9), zone))
    start = end - timedelta(days=days - 1)
    for batch_start in range(0, days, 60):
        async with store.transaction() as uow:
            for offset in range(batch_start, min(days, batch_start + 60)):
                day = start + timedelta(days=offset)
                evening = datetime.combine(day, time(20, 30), zone).astimezone(UTC)
                checkin = await uow.checkins.create(
                    client_id=client.id, local_date=day, status="prompted",
                    questionnaire_id=q.id, questionnaire_version=str(q.version),
                    item_ids=[i.id for i in q.items], now=evening - timedelta(hours=2))
                if offset % missed_every == missed_every - 1:
                    await uow.checkins.save(checkin.id, status="missed")
                    seeded.days[day] = "missed"
                    continue
                high_risk = offset % high_risk_every == 0
                note = (f"Note of {day:%d %b}: talked with Ana, felt steadier"
                        if offset % note_every == 1 else None)
                answers = daily_answers(rng, day, plan, high_risk=high_risk, note=note,
                                        strain=strain(day) if strain else 0.0)
                state = CheckInState(q.id, q.version, answers, None)
                assessment = evaluate(rules, q, DaySnapshot(day, answers), [])
                ind = assessment.indicators
                assert ind is not None
                scores = stored_scores(ind)
                await uow.checkins.save(checkin.id, state=Stored(5, state).to_data(),
                                        scores=scores, risk_level=assessment.level,
                                        status="submitted", started_at=evening,
                                        submitted_at=evening + timedelta(minutes=3))
                seeded.days[day] = "submitted"
                if high_risk:
                    seeded.situations[day] = str(answers["high_risk_detail"])
                if note:
                    seeded.notes[day] = note
                if assessment.findings:
                    alert = await uow.alerts.add(
                        client_id=client.id, checkin_id=checkin.id, level=assessment.level,
                        detail={"reasons": [f.reason_code for f in assessment.findings],
                                "rules": [f.rule_id for f in assessment.findings],
                                "answers": []},
                        now=evening + timedelta(minutes=3), next_escalation_at=None)
                    if offset < days - 3:
                        # Varied: between 20 minutes and about five hours, with a note;
                        # else an hour after the evening's prompt, without one.
                        delay = (timedelta(minutes=20 + (offset * 37) % 280) if varied_acks
                                 else evening + timedelta(hours=1) - alert.created_at)
                        await uow.alerts.acknowledge(alert.id, by=client.clinician_id,
                                                     now=alert.created_at + delay)
                        if varied_acks:
                            await uow.alerts.add_note(
                                alert.id, client.id, ACK_NOTES[offset % len(ACK_NOTES)],
                                by=client.clinician_id, now=alert.created_at + delay)
                        seeded.acknowledged[alert.id] = delay
                    seeded.alerts += 1
                if offset % journal_every == 0:
                    at = datetime.combine(day, time(22, 5), zone).astimezone(UTC)
                    text = (f"Journal of {day:%d %b}: a quiet day at work. I noticed the old "
                            "pull when I was tired, and I used my plan: I called my sponsor "
                            "and went to bed early. Ünïcode ✓ stays readable.")
                    await uow.journal.write(client_id=client.id, text=text, now=at)
                    seeded.journal.append((at, text))
    return seeded
