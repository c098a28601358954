"""Risk alerts: raised in the same transaction as the answers, acknowledged, escalated.

An alert's message carries no health detail by default (level, client code, time);
the reasons and the answers behind them are sealed in the alert row and shown only on
request, in a message that is deleted after a while. The check-in service calls in here as
answers are saved; nothing here imports it. A copy's buttons are plain values
(journal.buttons) that bot/ draws.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from journal.alerts.levels import ALERT_ORDER, highest, label
from journal.alerts.rules import (
    Assessment,
    DailyRule,
    DaySnapshot,
    Finding,
    Indicators,
    RiskRules,
    TrendRule,
    check_overrides,
    evaluate,
    evaluate_blocked,
    evaluate_missed,
    evaluate_no_show,
    snapshot,
    threshold_of,
)
from journal.buttons import ALERT_ACK, ALERT_DETAILS, Button, rows_data
from journal.checkin.flow import answers_of, render_answer
from journal.checkin.questionnaire import Answer, Questionnaire
from journal.clock import Clock
from journal.errors import InvalidInput, NotAllowed, NotFound
from journal.i18n import N_, gettext_for
from journal.people import CURRENT, visible_client

if TYPE_CHECKING:
    from journal.phases.service import PhaseService
from journal.staff import StaffDefaults, StaffLocale
from journal.times import shown_time
from storage.records import Alert, AlertStatus, CheckIn, Client, Clinician, DayStatus
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from journal.sharing import SharingService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EscalationPolicy:
    """Minutes before an unacknowledged alert goes to the supervisors, per level."""

    minutes: Mapping[str, int | None]
    cap: int = 3

    def first(self, level: str, now: datetime) -> datetime | None:
        minutes = self.minutes.get(level)
        return None if not minutes else now + timedelta(minutes=minutes)


# Every level escalates, elevated too: an alert nobody acknowledges must reach someone.
DEFAULT_ESCALATION = EscalationPolicy({"critical": 15, "high": 60, "elevated": 240})


class AlertService:
    def __init__(self, *, clock: Clock, questionnaire: Questionnaire, rules: RiskRules,
                 detail: str = "minimal", staff_language: str = "en",
                 display_timezone: str = "UTC",
                 escalation: EscalationPolicy = DEFAULT_ESCALATION,
                 team: SharingService | None = None,
                 phases: PhaseService | None = None) -> None:
        """`team`: told when a staff copy of an alert was delivered, so an officer the
        client agreed to tell hears of it (the level only) after the clinician.
        `phases`: the program's phases, whose thresholds adjust the rules for a client
        in each phase and whose step-up rule every raised alert is shown to."""
        self._team = team
        self._clock = clock
        self._phases = phases
        self._q = questionnaire
        self._rules = rules
        self._full = detail == "full"
        self._staff = StaffDefaults(staff_language, display_timezone)
        self._escalation = escalation

    @property
    def rules(self) -> RiskRules:
        return self._rules

    def locale_of(self, person: Clinician | None) -> StaffLocale:
        """The language and zone a staff member reads alerts in (journal/staff.py)."""
        return self._staff.of(person)

    # -- raising -------------------------------------------------------------------------
    async def on_answer(self, uow: UnitOfWork, client: Client, checkin_id: str,
                        item_id: str, answers: Mapping[str, Answer]) -> bool:
        """Called as each answer is saved. A yes to a crisis item raises a critical alert
        at once, before the check-in goes on; returns True when the client must see the
        crisis resources now."""
        item = self._q.item(item_id)
        if not (item.crisis and answers.get(item_id) is True):
            return False
        rule = next((r for r in self._rules.daily
                     if isinstance(r, DailyRule) and r.test.name == item_id), None)
        finding = Finding(rule.id if rule else item_id, "critical",
                          rule.reason if rule else "SELF_HARM")
        if finding.reason_code not in await self._raised_reasons(uow, checkin_id):
            await self.raise_alert(uow, client, findings=[finding], checkin_id=checkin_id,
                                   answers=answers)
        return True

    async def on_submit(self, uow: UnitOfWork, client: Client, checkin: CheckIn,
                        answers: Mapping[str, Answer]) -> Assessment:
        """Assess a submitted check-in against the rules and the days before it; store the
        level and indicators with it, and raise what has not been raised yet."""
        history = await self._history(uow, client.id, checkin.local_date)
        overrides = self._with_phase(client, await uow.overrides.for_client(client.id))
        today = DaySnapshot(checkin.local_date, answers)
        assessment = evaluate(self._rules, self._q, today, history, overrides=overrides)
        await uow.checkins.save(checkin.id, scores=stored_scores(assessment.indicators),
                                risk_level=assessment.level)
        raised = await self._raised_reasons(uow, checkin.id)
        fresh = [f for f in assessment.findings if f.reason_code not in raised]
        if fresh:
            await self.raise_alert(uow, client, findings=fresh, checkin_id=checkin.id,
                                   answers=answers)
        return assessment

    async def on_missed(self, uow: UnitOfWork, client: Client, statuses: Sequence[str],
                        local_date: date, *,
                        overrides: Mapping[str, int] | None = None) -> Alert | None:
        """The missed-run rule over the client's recent days; `overrides`, when the caller
        read them already (a tick, for its whole chunk), spares reading them here."""
        if overrides is None:
            overrides = await uow.overrides.for_client(client.id)
        overrides = self._with_phase(client, overrides)
        recent: list[Literal["completed", "missed"]] = [
            "missed" if s == DayStatus.MISSED else "completed" for s in statuses]
        assessment = evaluate_missed(self._rules, recent, overrides=overrides)
        if not assessment.findings:
            return None
        return await self.raise_alert(uow, client, findings=list(assessment.findings),
                                      checkin_id=None, answers={},
                                      dedupe=f"missed:{client.id}:{local_date.isoformat()}")

    async def client_blocked(self, uow: UnitOfWork, chat_id: int) -> Alert | None:
        """Telegram answered 403: the person blocked the bot. For a client this cuts the
        daily contact, a clinical signal: mark them unreachable and alert at once."""
        client = await uow.clients.by_telegram_id(chat_id)
        if client is None:
            log.error("a staff chat refused a message (403); check that account")
            return None
        if client.unreachable:
            return None
        await uow.clients.update(client.id, unreachable=True)
        await uow.audit(at=self._clock.now(), actor="system", action="client.unreachable",
                        client_id=client.id, detail=f"client {client.code} blocked the bot")
        assessment = evaluate_blocked(self._rules)
        if not assessment.findings:
            return None
        return await self.raise_alert(uow, client, findings=list(assessment.findings),
                                      checkin_id=None, answers={})

    async def on_no_show(self, uow: UnitOfWork, client: Client, appointment_id: str
                         ) -> Alert | None:
        """Staff recorded that the client did not come to an appointment: an alert at the
        level the rules file's [[no_show]] sets (none when it has no such rule), raised
        once per appointment."""
        assessment = evaluate_no_show(self._rules)
        if not assessment.findings:
            return None
        return await self.raise_alert(uow, client, findings=list(assessment.findings),
                                      checkin_id=None, answers={},
                                      dedupe=f"noshow:{appointment_id}")

    async def raise_alert(self, uow: UnitOfWork, client: Client, *, findings: Sequence[Finding],
                          checkin_id: str | None, answers: Mapping[str, Answer],
                          dedupe: str | None = None) -> Alert:
        now = self._clock.now()
        level = highest([f.level for f in findings])
        clinician = await uow.clinicians.get(client.clinician_id)
        detail = {
            # Two rules (elevated and high) can give one reason: each is stored once.
            "reasons": list(dict.fromkeys(f.reason_code for f in findings)),
            "rules": [f.rule_id for f in findings],
            # In the owner's language: these words are sealed as they were read.
            "answers": self._answers_behind(findings, answers,
                                            self.locale_of(clinician).language),
        }
        alert = await uow.alerts.add(client_id=client.id, checkin_id=checkin_id, level=level,
                                     detail=detail, now=now,
                                     next_escalation_at=self._escalation.first(level, now))
        if clinician is not None:
            await self._send_copy(uow, alert, client, clinician, dedupe=dedupe)
        await uow.audit(at=now, actor="system", action="alert.raise", client_id=client.id,
                        detail=f"alert {alert.id}")  # its level stays sealed in the alert
        if self._phases is not None:
            await self._phases.after_alert(uow, client, alert)
        return alert

    def _with_phase(self, client: Client, overrides: Mapping[str, int]) -> Mapping[str, int]:
        """The phase's threshold adjustments under the clinician's own overrides."""
        if self._phases is None:
            return overrides
        adjusted = self._phases.phase_of(client).thresholds
        return {**adjusted, **overrides} if adjusted else overrides

    async def _send_copy(self, uow: UnitOfWork, alert: Alert, client: Client,
                         recipient: Clinician, *, escalation: int = 0,
                         dedupe: str | None = None) -> None:
        """Queue one copy, in the recipient's language and zone. It is useful until the
        alert is handled (no useful_until: the worker expires a waiting copy once its alert
        is no longer open)."""
        chat_id = recipient.telegram_id
        locale = self.locale_of(recipient)
        params = {"text": self.alert_text(alert, client.code, escalated=escalation > 0,
                                          locale=locale),
                  "buttons": self.buttons(alert.id, language=locale.language)}
        outbox_id = await uow.outbox.add(chat_id=chat_id, kind="alert", method="sendMessage",
                                         params=params, now=self._clock.now(),
                                         client_id=client.id, dedupe_key=dedupe)
        if outbox_id is not None:
            await uow.alerts.add_copy(alert.id, outbox_id, chat_id, escalation=escalation)

    # -- texts ---------------------------------------------------------------------------
    def alert_text(self, alert: Alert, code: str, *, escalated: bool = False,
                   handled_by: str | None = None, locale: StaffLocale | None = None) -> str:
        """`locale`: the reader's (the program's defaults when None)."""
        locale = locale or self.locale_of(None)

        def t(message: str) -> str:
            return gettext_for(locale.language, message)

        lines = alert_heading(alert, code, locale, escalated=escalated)
        if self._full:
            lines.append("")
            lines += ["• " + r for r in self.reason_texts(alert, locale.language)]
        if handled_by:
            lines += ["", t(N_("Handled: acknowledged by {name}.")).format(name=handled_by)]
        return "\n".join(lines)

    def reason_text(self, code: str, language: str | None = None) -> str:
        return gettext_for(language or self._staff.language, self._rules.reason_label(code))

    def reason_texts(self, alert: Alert, language: str) -> list[str]:
        """The alert's reasons in words, each once (an older alert may list a reason
        twice, and two codes may share a label)."""
        return list(dict.fromkeys(self.reason_text(r, language)
                                  for r in alert.detail.get("reasons", [])))

    def buttons(self, alert_id: str, *, handled: bool = False, language: str | None = None
                ) -> list[list[dict[str, str]]]:
        """An alert copy's buttons, as the outbox row carries them (bot/ draws them)."""
        language = language or self._staff.language
        row = [Button(ALERT_DETAILS, gettext_for(language, N_("Details")), alert=alert_id)]
        if not handled:
            row.append(Button(ALERT_ACK, gettext_for(language, N_("Acknowledge")),
                              alert=alert_id))
        return rows_data([row])

    def details_text(self, alert: Alert, code: str, locale: StaffLocale | None = None,
                     authors: Mapping[int, str] | None = None) -> str:
        """`authors`: the names of the notes' authors by clinician id."""
        locale = locale or self.locale_of(None)

        def t(message: str) -> str:
            return gettext_for(locale.language, message)

        lines = [t(N_("Details for client {code}")).format(code=code), ""]
        lines += ["• " + r for r in self.reason_texts(alert, locale.language)]
        answered = alert.detail.get("answers", [])
        if answered:
            lines += ["", t(N_("Answers behind them:"))]
            lines += [f"{question}: {answer}" for question, answer in answered]
        for note in alert.notes:
            lines += ["", t(N_("Note by {name}, {time}: {note}")).format(
                name=(authors or {}).get(note.author_id or 0, "-"),
                time=shown_time(note.at, locale.timezone), note=note.text or "-")]
        lines += ["", t(N_("This message is deleted in a few minutes."))]
        return "\n".join(lines)

    def _answers_behind(self, findings: Sequence[Finding], answers: Mapping[str, Answer],
                        language: str) -> list[list[str]]:
        items: list[str] = []
        situation = self._q.review.item("situation")
        about_situation = False
        for finding in findings:
            try:
                rule = self._rules.rule(finding.rule_id)
            except KeyError:
                continue
            if isinstance(rule, DailyRule):
                for test in (rule.test, *rule.also):
                    if test.source == "indicator":
                        items += [i.id for i in self._q.items if test.name in i.indicators]
                    else:
                        items.append(test.name)
            elif isinstance(rule, TrendRule) and rule.source == "item":
                items.append(rule.name)
            if (isinstance(rule, DailyRule) and rule.test.source == "item"
                    and rule.test.name == situation):
                about_situation = True
        # A rule about the high-risk situation itself shows, last, what the client said of it.
        detail = self._q.review.item("situation_detail")
        if about_situation and detail is not None:
            items.append(detail)
        shown: list[list[str]] = []
        for item_id in dict.fromkeys(items):
            if item_id in answers and self._q.has_item(item_id):
                item = self._q.item(item_id)
                shown.append([item.short.get(language),
                              render_answer(item, answers[item_id], language)])
        return shown

    # -- reading and acknowledging -------------------------------------------------------
    async def visible_alert(self, uow: UnitOfWork, clinician: Clinician,
                            alert_id: str) -> tuple[Alert, Client]:
        """An alert the clinician may see: their own client's, or any for a supervisor.
        Anything else looks exactly like a missing alert (a forged payload learns nothing)."""
        alert = await uow.alerts.get(alert_id)
        client = await uow.clients.get(alert.client_id) if alert else None
        if alert is None or client is None or not (
                clinician.is_supervisor or client.clinician_id == clinician.id):
            raise NotFound("no such alert for this clinician")
        return alert, client

    async def details(self, uow: UnitOfWork, clinician: Clinician, alert_id: str) -> str:
        alert, client = await self.visible_alert(uow, clinician, alert_id)
        await uow.audit(at=self._clock.now(), actor=f"clinician:{clinician.id}",
                        action="alert.details", client_id=client.id, detail=f"alert {alert.id}")
        return self.details_text(alert, client.code, self.locale_of(clinician),
                                 await note_authors(uow, [alert]))

    async def acknowledge(self, uow: UnitOfWork, clinician: Clinician, alert_id: str
                          ) -> tuple[Alert, bool]:
        """Mark the alert handled and update every copy sent; False if it was already."""
        alert, client = await self.visible_alert(uow, clinician, alert_id)
        now = self._clock.now()
        changed = await uow.alerts.acknowledge(alert.id, by=clinician.id, now=now)
        if changed:
            await uow.audit(at=now, actor=f"clinician:{clinician.id}", action="alert.acknowledge",
                            client_id=client.id, detail=f"alert {alert.id}")
            for chat_id, message_id in await uow.alerts.copies(alert.id):
                if message_id is None:
                    continue  # not sent yet: it expires, or copy_delivered() marks it
                await self._mark_handled(uow, alert, client, clinician.name, chat_id,
                                         message_id)
        fresh = await uow.alerts.get(alert.id)
        assert fresh is not None
        return fresh, changed

    async def copy_delivered(self, uow: UnitOfWork, outbox_id: str, chat_id: int,
                             message_id: int) -> None:
        """A copy reached its chat. If the alert was acknowledged while the copy was on its
        way (too late for acknowledge() to see its message id), mark this copy handled too,
        so nobody is left looking at an Acknowledge button for a handled alert.

        Only now, the clinician told, does an officer the client shares alerts with get the
        level and the time (journal/sharing.py: alert_told)."""
        if self._team is not None:
            await self._team.alert_told(uow, outbox_id)
        alert = await uow.alerts.of_copy(outbox_id)
        if alert is None or alert.status != AlertStatus.ACKNOWLEDGED or alert.acknowledged_by is None:
            return
        client = await uow.clients.get(alert.client_id)
        by = await uow.clinicians.get(alert.acknowledged_by)
        if client is not None and by is not None:
            await self._mark_handled(uow, alert, client, by.name, chat_id, message_id)

    async def _mark_handled(self, uow: UnitOfWork, alert: Alert, client: Client, name: str,
                            chat_id: int, message_id: int) -> None:
        """Edit one copy to handled, in the language of the chat's staff member."""
        locale = self.locale_of(await uow.clinicians.by_telegram_id(chat_id))
        await uow.outbox.add(
            chat_id=chat_id, kind="alert-update", method="editMessageText",
            params={"message_id": message_id,
                    "text": self.alert_text(alert, client.code, handled_by=name,
                                            locale=locale),
                    "buttons": self.buttons(alert.id, handled=True,
                                            language=locale.language)},
            now=self._clock.now(), client_id=client.id)

    async def add_note(self, uow: UnitOfWork, clinician: Clinician, alert_id: str,
                       note: str) -> Client:
        """Add the clinician's note to the alert's notes: a second acknowledgement or a
        later note adds one, and the notes already there stay, each under its author."""
        alert, client = await self.visible_alert(uow, clinician, alert_id)
        if alert.status != AlertStatus.ACKNOWLEDGED:
            raise NotAllowed("acknowledge the alert before adding a note")
        now = self._clock.now()
        await uow.alerts.add_note(alert.id, client.id, note.strip()[:2000], by=clinician.id,
                                  now=now)
        # Which alert, and that a note was added: never the note's text.
        await uow.audit(at=now, actor=f"clinician:{clinician.id}", action="alert.note",
                        client_id=client.id,
                        detail=f"note {len(alert.notes) + 1} added to alert {alert.id}")
        return client

    async def open_alerts(self, uow: UnitOfWork, clinician: Clinician
                          ) -> list[tuple[Alert, Client]]:
        clients = await uow.clients.for_clinician(None if clinician.is_supervisor
                                                  else clinician.id)
        by_id = {c.id: c for c in clients}
        alerts = await uow.alerts.open_for(list(by_id))
        order: tuple[str, ...] = ALERT_ORDER
        alerts.sort(key=lambda a: (order.index(a.level) if a.level in order else len(order),
                                   a.created_at))
        return [(a, by_id[a.client_id]) for a in alerts]

    async def reasons_shown(self, uow: UnitOfWork, clinician: Clinician,
                            shown: Sequence[tuple[Alert, Client]]) -> None:
        """Audit alerts whose reasons a page shows, as details() audits the chat's Details
        button: one alert.details event for each (the alerts come from open_alerts(), so
        the access rule was applied already)."""
        now = self._clock.now()
        for alert, client in shown:
            await uow.audit(at=now, actor=f"clinician:{clinician.id}", action="alert.details",
                            client_id=client.id, detail=f"alert {alert.id}")

    async def recently_acknowledged(self, uow: UnitOfWork, clinician: Clinician, *,
                                    days: int = 7, level: str | None = None
                                    ) -> list[tuple[Alert, Client]]:
        """The alerts of the clinician's caseload (every one for a supervisor) acknowledged
        in the last `days` days (of `level` only, when given), newest first, with their
        notes; reading notes is audited."""
        clients = await uow.clients.for_clinician(None if clinician.is_supervisor
                                                  else clinician.id)
        by_id = {c.id: c for c in clients}
        now = self._clock.now()
        alerts = [a for a in await uow.alerts.acknowledged_since(list(by_id),
                                                                 now - timedelta(days=days))
                  if level is None or a.level == level]
        noted = [a for a in alerts if a.notes]
        if noted:
            await uow.audit(at=now, actor=f"clinician:{clinician.id}", action="alert.notes",
                            detail=f"notes of {len(noted)} acknowledged alerts shown")
        return [(a, by_id[a.client_id]) for a in alerts]

    # -- per-client thresholds ------------------------------------------------------------
    async def thresholds(self, uow: UnitOfWork, clinician: Clinician, code: str
                         ) -> tuple[Client, list[tuple[str, int, int | None]]]:
        """(rule id, program threshold, this client's override) for every tunable rule."""
        client = await visible_client(uow, clinician, code, statuses=CURRENT)
        overrides = await uow.overrides.for_client(client.id)
        rows = []
        for rule in self._rules.all_rules:
            default = threshold_of(rule)
            if default is not None:
                rows.append((rule.id, default, overrides.get(rule.id)))
        return client, rows

    async def set_threshold(self, uow: UnitOfWork, clinician: Clinician, code: str,
                            rule_id: str, value: int) -> Client:
        """A clinician's override of one rule's threshold for one client, audited."""
        client = await visible_client(uow, clinician, code, statuses=CURRENT)
        if check_overrides(self._rules, {rule_id: value}):
            raise InvalidInput(f"override {rule_id} refused", key="threshold.invalid")
        await uow.overrides.set(client.id, rule_id, value, by=clinician.id,
                                now=self._clock.now())
        await uow.audit(at=self._clock.now(), actor=f"clinician:{clinician.id}",
                        action="risk.override", client_id=client.id,
                        detail=f"{rule_id} threshold {value}")
        return client

    # -- escalation ----------------------------------------------------------------------
    async def escalate_due(self, uow: UnitOfWork) -> int:
        """Send every overdue, unacknowledged alert to the supervisors, up to the cap."""
        now = self._clock.now()
        count = 0
        supervisors = await uow.clinicians.supervisors()
        for alert in await uow.alerts.due_escalations(now):
            client = await uow.clients.get(alert.client_id)
            if client is None:
                continue
            number = alert.escalations + 1
            for supervisor in supervisors:
                await self._send_copy(uow, alert, client, supervisor,
                                      escalation=number,
                                      dedupe=f"esc:{alert.id}:{number}:{supervisor.id}")
            minutes = self._escalation.minutes.get(alert.level) or 0
            more = number < self._escalation.cap and minutes
            await uow.alerts.set_escalation(
                alert.id, escalations=number,
                next_at=now + timedelta(minutes=minutes) if more else None)
            await uow.audit(at=now, actor="system", action="alert.escalate", client_id=client.id,
                            detail=f"alert {alert.id} escalation {number}")
            count += 1
        return count

    # -- helpers -------------------------------------------------------------------------
    async def _raised_reasons(self, uow: UnitOfWork, checkin_id: str) -> set[str]:
        reasons: set[str] = set()
        for alert in await uow.alerts.for_checkin(checkin_id):
            reasons.update(alert.detail.get("reasons", []))
        return reasons

    async def _history(self, uow: UnitOfWork, client_id: str, today: date) -> list[DaySnapshot]:
        days = await uow.checkins.recent(client_id, since=today - timedelta(days=14),
                                         until=today - timedelta(days=1))
        history = []
        for day in days:
            if day.status == DayStatus.MISSED:
                history.append(DaySnapshot(day.local_date, None))
            elif day.status == DayStatus.SUBMITTED and day.state is not None:
                answers = answers_of(day.state)
                history.append(snapshot(self._q, day.local_date, answers))
        return history


CopyStateName = Literal["delivered", "waiting", "unreachable", "expired", "withdrawn"]


@dataclass(frozen=True)
class CopyState:
    """Where one copy of an alert truly stands, for a reader: `name` is whom it went to
    (the chat's staff member), `escalation` 0 the owner's own copy, `state` delivered (at
    `at`), waiting (queued or being retried), unreachable (Telegram refused it for good),
    expired (still undelivered when the alert was handled: an alert copy has no other end)
    or withdrawn (cancelled before it was sent)."""

    name: str
    escalation: int
    state: CopyStateName
    at: datetime | None = None

COPY_STATES: Mapping[str, CopyStateName] = {
    "sent": "delivered", "queued": "waiting", "retrying": "waiting", "dead": "unreachable",
    "expired": "expired", "cancelled": "withdrawn"}


async def copy_states(uow: UnitOfWork, alerts: Sequence[Alert]
                      ) -> dict[str, tuple[CopyState, ...]]:
    """{alert id: its copies as they stand}, from the outbox rows the copies are: two
    statements whatever the number of alerts (the copies, and the staff for their names)."""
    copies = await uow.alerts.copy_states([a.id for a in alerts])
    names: dict[int, str] = {}
    if any(copies.values()):
        names = {c.telegram_id: c.name for c in await uow.clinicians.everyone()}
    return {alert_id: tuple(CopyState(name=names.get(c.chat_id, "-"),
                                      escalation=c.escalation,
                                      state=COPY_STATES.get(c.status, "waiting"),
                                      at=c.sent_at if c.status == "sent" else None)
                            for c in found)
            for alert_id, found in copies.items()}


async def note_authors(uow: UnitOfWork, alerts: Sequence[Alert]) -> dict[int, str]:
    """The names of whoever left the alerts' notes, by clinician id."""
    ids = {n.author_id for a in alerts for n in a.notes if n.author_id is not None}
    if not ids:
        return {}
    staff = {c.id: c.name for c in await uow.clinicians.everyone()}  # one statement
    return {clinician_id: staff.get(clinician_id, "-") for clinician_id in ids}


def alert_heading(alert: Alert, code: str, locale: StaffLocale, *, escalated: bool,
                  zone_named: bool = False) -> list[str]:
    """What every copy of an alert says first, in the chat and in the fallback e-mail:
    escalated or not, the level, the client's code and when it was raised (no health
    detail). `zone_named`: the zone's name after the time too, for a reader away from the
    program (an e-mail)."""
    def t(message: str) -> str:
        return gettext_for(locale.language, message)

    time = shown_time(alert.created_at, locale.timezone)
    if zone_named:
        time += f" ({locale.timezone})"
    lines = []
    if escalated:
        lines.append(t(N_("ESCALATED: not acknowledged in time.")))
    lines.append(t(N_("{level} alert for client {code}")).format(
        level=t(label(alert.level)), code=code))
    lines.append(t(N_("Raised {time}")).format(time=time))
    return lines


def stored_scores(indicators: Indicators | None) -> dict[str, Any]:
    """A check-in's indicators as its row keeps them (`checkins.scores`)."""
    if indicators is None:
        return {}
    # Each roll-up under its own id, beside the items' and the domains' scores.
    return {**indicators.roll_ups, "items": dict(indicators.item_scores),
            "domains": dict(indicators.domain_scores)}

