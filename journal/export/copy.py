"""A client's copy of their own record (`/mydata`): their answers, journal, plan and its
versions (who changed it as a role word, never a name), their suggestions and help-now
moments, what they share with a supervising officer, the alerts raised about them (levels
and times, not the clinician's notes) and the ledger of who looked, in their language, as
a PDF and a JSON file.

One a day: the limit is read from the audit trail (the last `mydata.copy` event about
them), so it holds across instances and restarts without a table of its own. Making a
copy is audited, and the clinician is told that a copy was made (nothing of what is in
it)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Final

from journal.checkin.flow import answers_of, render_answer
from journal.checkin.questionnaire import Questionnaire
from journal.clock import Clock
from journal.errors import DomainError
from journal.export.document import (
    ClientCopy,
    CopyAgreement,
    CopyDay,
    CopyPlanVersion,
    build_copy_pdf,
    copy_filename,
)
from journal.i18n import N_, gettext_for
from journal.review.plan import parts, plan_lines, plan_sections
from journal.sharing import CATEGORY_WORDS, role_word
from journal.times import shown_time
from storage.records import Client
from storage.uow import UnitOfWork

ACTION: Final = "mydata.copy"
EVERY: Final = timedelta(hours=24)
STAFF_COPY_MADE: Final = N_("Client {code} asked for a copy of their own record, and it was "
                            "sent to them in the chat.")
LEVEL_WORDS: Final = {"elevated": N_("elevated"), "high": N_("high"),
                      "critical": N_("critical")}
SUGGESTION_WORDS: Final = {"open": N_("waiting for your clinician"),
                           "accepted": N_("added to your plan"),
                           "declined": N_("declined")}
TOLD_WORDS: Final = {True: N_("your clinician was told"),
                     False: N_("your clinician was not told"),
                     None: N_("not answered")}
OUTCOME_WORDS: Final = {"better": N_("Better"), "same": N_("About the same"),
                        "worse": N_("Worse")}
AGREEMENT_WORDS: Final = {"proposed": N_("waiting for your answer"), "agreed": N_("agreed"),
                          "declined": N_("declined"), "withdrawn": N_("you stopped sharing"),
                          "ended": N_("ended")}


class CopyTooSoon(DomainError):
    """One copy a day: the next one can be had from `next_at`."""

    key = "mydata.too_soon"

    def __init__(self, next_at: datetime) -> None:
        super().__init__("a copy was made less than a day ago")
        self.next_at = next_at


class ClientCopies:
    def __init__(self, *, clock: Clock, questionnaire: Questionnaire,
                 staff_language: str = "en") -> None:
        self._clock = clock
        self._q = questionnaire
        self._staff_language = staff_language

    async def check(self, uow: UnitOfWork, client: Client) -> None:
        """Raises CopyTooSoon when the client had a copy less than a day ago."""
        last = await uow.exports.last_event_at(client.id, ACTION)
        if last is not None and self._clock.now() - last < EVERY:
            raise CopyTooSoon(last + EVERY)

    async def make(self, uow: UnitOfWork, client: Client) -> ClientCopy:
        """The copy, audited, the clinician told; the limit checked again (two presses)."""
        await self.check(uow, client)
        now = self._clock.now()
        lang = client.language
        zone = client.timezone
        plan = await uow.plans.get(client.id)
        steps = list(plan.coping_steps)
        copy = ClientCopy(code=client.code, language=lang,
                          made_at=shown_time(now, zone),
                          enrolled=shown_time(client.enrolled_at, zone)
                          if client.enrolled_at else None)
        async for row in uow.exports.checkins([client.id], date.min, date.max):
            if row.status != "submitted" or row.state is None:
                continue
            answers = answers_of(row.state)
            shown = []
            for item in self._q.items:
                if item.id in answers:
                    shown.append((item.text.get(lang),
                                  render_answer(item, answers[item.id], lang, steps)))
            copy.checkins.append(CopyDay(row.local_date.isoformat(), shown))
        early, late = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
        async for entry in uow.exports.journal([client.id], early, late):
            copy.journal.append((shown_time(entry.saved_at, zone), entry.text))
        for title, items in plan_sections(plan):
            copy.plan.append((gettext_for(lang, title), list(items)))
        await self._plan_and_team(uow, client, copy)
        async for alert in uow.exports.alerts([client.id], early, late, open_detail=False):
            copy.alerts.append((shown_time(alert.created_at, zone),
                                gettext_for(lang, LEVEL_WORDS.get(alert.level, alert.level)),
                                shown_time(alert.acknowledged_at, zone)
                                if alert.acknowledged_at else None))
        staff = {f"clinician:{c.id}": c.name for c in await uow.clinicians.everyone()}
        async for event in uow.exports.audit_events(client.id):
            copy.ledger.append((shown_time(event.at, zone), _who(event.actor, staff, lang),
                                event.action))
        await uow.audit(at=now, actor=f"client:{client.id}", action=ACTION,
                        client_id=client.id,
                        detail=f"days {len(copy.checkins)}, entries {len(copy.journal)}, "
                               f"alerts {len(copy.alerts)}, "
                               f"plan versions {len(copy.plan_versions)}")
        clinician = await uow.clinicians.get(client.clinician_id)
        if clinician is not None and clinician.active:
            text = gettext_for(clinician.language or self._staff_language,
                               STAFF_COPY_MADE).format(code=client.code)
            await uow.outbox.add(chat_id=clinician.telegram_id, kind="notice",
                                 method="sendMessage", params={"text": text}, now=now,
                                 client_id=client.id)
        return copy


    async def _plan_and_team(self, uow: UnitOfWork, client: Client, copy: ClientCopy) -> None:
        """The plan's versions, the client's suggestions and help-now moments, and their
        sharing agreements, in their language."""
        lang, zone = client.language, client.timezone

        def t(msgid: str) -> str:
            return gettext_for(lang, msgid)

        roles: dict[int, str] = {}
        for version in await uow.plans.versions(client.id):
            if version.by is None:
                by = t(N_("the program"))
            else:
                if version.by not in roles:
                    staff = await uow.clinicians.get(version.by)
                    roles[version.by] = role_word(lang, staff.role) if staff else ""
                by = roles[version.by] or t(N_("the program"))
            copy.plan_versions.append(CopyPlanVersion(
                number=version.number, when=shown_time(version.at, zone), by=by,
                reason=version.reason, parts=plan_lines(version.plan, lang)))
        titles = parts().titles
        for suggestion in await uow.plans.suggestions(client.id, open_only=False):
            part = titles.get(suggestion.part)
            copy.suggestions.append((
                shown_time(suggestion.created_at, zone),
                t(part) if part else suggestion.part, suggestion.text,
                t(SUGGESTION_WORDS.get(suggestion.status, suggestion.status))))
        for moment in await uow.plans.moments(client.id):
            copy.help_moments.append((
                shown_time(moment.at, zone), t(TOLD_WORDS[moment.told]),
                t(OUTCOME_WORDS[moment.outcome]) if moment.outcome in OUTCOME_WORDS else ""))
        for agreement in await uow.sharing.of_client(client.id):
            officer = await uow.clinicians.get(agreement.officer_id)
            copy.sharing.append(CopyAgreement(
                officer=officer.name if officer else "—",
                categories=[t(CATEGORY_WORDS[c]).format(
                    level=t(LEVEL_WORDS.get(agreement.alert_level, agreement.alert_level)))
                    for c in agreement.categories if c in CATEGORY_WORDS],
                status=t(AGREEMENT_WORDS.get(agreement.status, agreement.status)),
                since=shown_time(agreement.answered_at or agreement.proposed_at, zone),
                ended=shown_time(agreement.ended_at, zone) if agreement.ended_at else None))


def _who(actor: str, staff: dict[str, str], lang: str) -> str:
    if actor in staff:
        return staff[actor]
    if actor.startswith("client:"):
        return gettext_for(lang, N_("you"))
    if actor.startswith("admin"):
        return gettext_for(lang, N_("the program's administrator"))
    return gettext_for(lang, N_("the program"))


__all__ = ["ACTION", "ClientCopies", "ClientCopy", "CopyDay", "CopyTooSoon", "build_copy_pdf",
           "copy_filename"]
