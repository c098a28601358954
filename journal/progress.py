"""The monthly progress report to a supervising officer (docs/clinical.md).

On the program's day of the month a draft is made for every agreement that includes the
report, and the client's clinician is asked to review it; they send it with a short
progress note (`/progress CODE note`), and the officer gets a short message, a PDF and a
button to acknowledge receipt. A draft not sent within five days goes to the supervisors.
What the report holds is counts, levels, a status and dates, and the note the clinician
writes for the officer; it says what it leaves out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from journal.alerts.levels import ALERT_ORDER, WORDS
from journal.buttons import PROGRESS_ACK, PROGRESS_PDF, Button, rows_data
from journal.clock import Clock
from journal.errors import InvalidInput, NotFound
from journal.i18n import N_, gettext_for
from journal.people import actor_of, visible_client
from journal.sharing import ATTENDANCE, REPORT, TEAM_KIND, SharingService, status_word
from journal.staff import StaffDefaults
from storage.records import ENROLLED, Client, Clinician, DayStatus, ProgressReport
from storage.repositories.sharing import AGREED
from storage.uow import UnitOfWork

RAISE_AFTER: Final = timedelta(days=5)
NOTE_LIMIT: Final = 1500

LEAVES_OUT: Final = N_(
    "What this report leaves out, and why: the client's answers, journal, relapse "
    "prevention plan, the reasons for alerts and any clinical note. Treatment depends on "
    "honest self-report, so what the client writes stays between them and the clinic; the "
    "client agreed to this report and can withdraw at any time.")


@dataclass(frozen=True, slots=True)
class ProgressContent:
    """What a report holds: counts, levels, a status and dates, never a word a client
    wrote."""

    code: str
    month: date
    done: int
    expected: int
    missed_runs: int  # runs of two or more missed days in a row
    longest_missed: int
    alerts: dict[str, int]  # level -> how many were raised in the month
    status: str
    plan_updated: bool
    kept: int | None = None  # appointments attended or late in the month, with attendance
    missed: int | None = None  # no-shows in the month, with attendance


def month_before(day: date) -> date:
    first = day.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def month_after(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


class ProgressService:
    def __init__(self, *, clock: Clock, sharing: SharingService, report_day: int = 1,
                 staff_language: str = "en", display_timezone: str = "UTC") -> None:
        self._clock = clock
        self._sharing = sharing
        self._day = report_day
        self._zone = display_timezone
        self._staff = StaffDefaults(staff_language, display_timezone)

    # -- the scheduler's step --------------------------------------------------------------
    async def progress_step(self, uow: UnitOfWork) -> None:
        """Each tick: from the program's day on, a draft for last month for every
        agreement that includes the report (once), its clinician asked to review it; a
        draft unsent for five days raised to the supervisors (once)."""
        now = self._clock.now()
        today = now.astimezone(ZoneInfo(self._zone)).date()
        if today.day >= self._day and REPORT in self._sharing.allowed:
            await self.make_drafts(uow, month_before(today))
        await self.raise_overdue(uow)

    async def make_drafts(self, uow: UnitOfWork, month: date) -> int:
        now = self._clock.now()
        agreements = await uow.sharing.agreed_with(REPORT)
        have = await uow.progress.months_of([a.id for a in agreements], month)
        made = 0
        for agreement in agreements:
            # Only a month the client had agreed to share by its end is reported.
            if agreement.id in have or agreement.answered_at is None or (
                    agreement.answered_at >= datetime.combine(month_after(month), time(), UTC)):
                continue
            client = await uow.clients.get(agreement.client_id)
            if client is None or client.status not in ENROLLED:
                continue
            draft = await uow.progress.add_draft(agreement_id=agreement.id,
                                                 client_id=client.id, month=month, now=now)
            if draft is None:
                continue
            made += 1
            await uow.audit(at=now, actor="system", action="progress.draft",
                            client_id=client.id, detail=f"report {draft.id} {month:%Y-%m}")
            clinician = await uow.clinicians.get(client.clinician_id)
            if clinician is not None and clinician.active:
                await self._notice(uow, clinician, client, N_(
                    "The monthly progress report for client {code} ({month}) is ready to "
                    "review. Send /progress {code} to see it, then /progress {code} followed "
                    "by a short progress note to send it."), month=f"{month:%Y-%m}")
        return made

    async def raise_overdue(self, uow: UnitOfWork) -> int:
        now = self._clock.now()
        raised = 0
        for draft in await uow.progress.overdue(now - RAISE_AFTER):
            client = await uow.clients.get(draft.client_id)
            await uow.progress.mark_raised(draft.id, now)
            if client is None:
                continue
            raised += 1
            await uow.audit(at=now, actor="system", action="progress.raise",
                            client_id=client.id, detail=f"report {draft.id} unsent 5 days")
            for supervisor in await uow.clinicians.supervisors():
                await self._notice(uow, supervisor, client, N_(
                    "The monthly progress report for client {code} ({month}) has waited five "
                    "days unsent. Its clinician sends it with /progress {code}."),
                    month=f"{draft.month:%Y-%m}")
        return raised

    # -- the clinician reviews and sends ---------------------------------------------------
    async def draft_for(self, uow: UnitOfWork, clinician: Clinician, code: str
                        ) -> tuple[Client, ProgressReport, ProgressContent]:
        """The client's waiting draft and what it holds; NotFound (as an unknown code)
        when there is none or the client is not the clinician's."""
        client = await visible_client(uow, clinician, code, statuses=ENROLLED)
        for agreement in await uow.sharing.of_client(client.id, statuses=(AGREED,)):
            draft = await uow.progress.latest_draft(agreement.id)
            if draft is not None:
                return client, draft, await self.content(
                    uow, client, draft.month, attendance=ATTENDANCE in agreement.categories)
        raise NotFound("no progress report waits for this client", key="progress.none")

    async def send(self, uow: UnitOfWork, clinician: Clinician, code: str, note: str
                   ) -> tuple[Client, Clinician]:
        """Send the waiting draft with the clinician's note to its officer: a short message
        with two buttons, the PDF (drawn when pressed) and "Acknowledge receipt"."""
        note = " ".join(note.split())
        if not note or len(note) > NOTE_LIMIT:
            raise InvalidInput("note length", key="progress.note")
        client, draft, content = await self.draft_for(uow, clinician, code)
        agreement = await uow.sharing.get(draft.agreement_id)
        officer = await uow.clinicians.get(agreement.officer_id) if agreement else None
        if agreement is None or agreement.status != AGREED or officer is None \
                or not officer.active:
            raise NotFound("the agreement ended", key="progress.none")
        now = self._clock.now()
        if not await uow.progress.send(draft.id, client.id, note, by=clinician.id, now=now):
            raise NotFound("sent already", key="progress.none")
        await uow.audit(at=now, actor=actor_of(clinician), action="progress.send",
                        client_id=client.id, detail=f"report {draft.id} to officer {officer.id}")
        locale = self._staff.of(officer)
        lang = locale.language
        await uow.outbox.add(
            chat_id=officer.telegram_id, kind=TEAM_KIND, method="sendMessage",
            params={"text": self.summary_text(content, lang),
                    "buttons": rows_data([[
                        Button(PROGRESS_PDF, gettext_for(lang, "The report (PDF)"),
                               report=draft.id),
                        Button(PROGRESS_ACK, gettext_for(lang, "Acknowledge receipt"),
                               report=draft.id)]])},
            now=now, client_id=client.id)
        return client, officer

    async def officer_view(self, uow: UnitOfWork, officer: Clinician, report_id: str
                           ) -> tuple[ProgressReport, ProgressContent, str]:
        """A sent report for its officer, while the agreement stands (an audited view):
        the report (its note opened), what it holds, and its author's name; NotFound as an
        unknown code otherwise."""
        report = await uow.progress.get(report_id, note=True)
        agreement = await uow.sharing.get(report.agreement_id) if report else None
        client = await uow.clients.get(report.client_id) if report else None
        if report is None or agreement is None or client is None \
                or agreement.officer_id != officer.id or agreement.status != AGREED \
                or report.status != "sent":
            raise NotFound("no such report", key="client.not_found")
        content = await self.content(uow, client, report.month,
                                     attendance=ATTENDANCE in agreement.categories)
        author = await uow.clinicians.get(report.sent_by) if report.sent_by else None
        await uow.audit(at=self._clock.now(), actor=actor_of(officer), action="officer.view",
                        client_id=client.id, detail=f"progress report {report.id}")
        return report, content, author.name if author else "-"

    async def officer_pdf(self, uow: UnitOfWork, officer: Clinician, report_id: str
                          ) -> tuple[str, Callable[[], Awaitable[bytes]]]:
        """The sent report as a PDF for its officer (an audited view), drawn by the returned
        coroutine function after commit; NotFound as an unknown code otherwise."""
        report, content, author = await self.officer_view(uow, officer, report_id)
        client_code = content.code
        lang = self._staff.of(officer).language
        title, sections = self.pdf_parts(content, report.note or "", lang, author)

        async def draw() -> bytes:
            from journal.ledger_pdf import build_ledger
            from journal.review.renderer import RENDERER  # multiprocessing, once needed

            return await RENDERER.run(build_ledger, title, gettext_for(lang, LEAVES_OUT),
                                      sections)

        return f"progress-{client_code}-{report.month:%Y-%m}.pdf", draw

    async def acknowledge(self, uow: UnitOfWork, officer: Clinician, report_id: str) -> str:
        """The officer acknowledges receipt (audited); NotFound as an unknown code when
        the report is not theirs."""
        report = await uow.progress.get(report_id)
        agreement = await uow.sharing.get(report.agreement_id) if report else None
        if report is None or agreement is None or agreement.officer_id != officer.id \
                or report.status != "sent":
            raise NotFound("no such report", key="client.not_found")
        client = await uow.clients.get(report.client_id)
        now = self._clock.now()
        if await uow.progress.acknowledge(report.id, now):
            await uow.audit(at=now, actor=actor_of(officer), action="progress.acknowledge",
                            client_id=report.client_id, detail=f"report {report.id}")
            author = await uow.clinicians.get(report.sent_by) if report.sent_by else None
            if author is not None and author.active and client is not None:
                await self._notice(uow, author, client, N_(
                    "{officer} acknowledged receipt of the progress report for client "
                    "{code}."), officer=officer.name)
        return client.code if client else "-"

    # -- what a report holds ---------------------------------------------------------------
    async def content(self, uow: UnitOfWork, client: Client, month: date, *,
                      attendance: bool = False) -> ProgressContent:
        """What the month holds; appointments kept and missed only when the client agreed
        to share attendance."""
        end = month_after(month)
        statuses = {d: s for d, s in (await uow.checkins.statuses(client.id, since=month)
                                      ).items() if d < end}
        done = sum(1 for s in statuses.values() if s == DayStatus.SUBMITTED)
        missed_days = sorted(d for d, s in statuses.items() if s == DayStatus.MISSED)
        runs, longest, run, last = 0, 0, 0, None
        for day in missed_days:
            run = run + 1 if last is not None and day - last == timedelta(days=1) else 1
            last = day
            longest = max(longest, run)
            if run == 2:
                runs += 1
        zone = ZoneInfo(client.timezone)
        start = datetime.combine(month, time(), zone).astimezone(UTC)
        stop = datetime.combine(end, time(), zone).astimezone(UTC)
        alerts: dict[str, int] = {}
        for alert in await uow.alerts.recent(client.id, since=start):
            if alert.created_at < stop:
                alerts[alert.level] = alerts.get(alert.level, 0) + 1
        plan = await uow.plans.get(client.id)
        updated = plan.updated_at is not None and start <= plan.updated_at < stop
        kept = missed = None
        if attendance and ATTENDANCE in self._sharing.allowed:
            marks = [a.attendance for a in await uow.appointments.of_client(
                client.id, since=start, limit=500) if a.starts_at < stop]
            kept = sum(1 for m in marks if m in ("attended", "late"))
            missed = sum(1 for m in marks if m == "no_show")
        return ProgressContent(code=client.code, month=month, done=done,
                               expected=done + len(missed_days), missed_runs=runs,
                               longest_missed=longest, alerts=alerts, status=client.status,
                               plan_updated=updated, kept=kept, missed=missed)

    def lines(self, content: ProgressContent, language: str) -> list[str]:
        def t(message: str) -> str:
            return gettext_for(language, message)

        alerts = ", ".join(f"{gettext_for(language, WORDS[level])}: {content.alerts[level]}"
                           for level in ALERT_ORDER if content.alerts.get(level))
        appointments = [] if content.kept is None else [
            t(N_("Appointments: {kept} kept, {missed} missed")).format(
                kept=content.kept, missed=content.missed)]
        return [
            t(N_("Check-ins: {done} of {expected} done")).format(done=content.done,
                                                                 expected=content.expected),
            *appointments,
            t(N_("Runs of missed days (two or more in a row): {runs}; longest: {longest}"
                 )).format(runs=content.missed_runs, longest=content.longest_missed),
            t(N_("Alerts by level: {alerts}")).format(alerts=alerts or t(N_("none"))),
            t(N_("Treatment status: {status}")).format(
                status=status_word(language, content.status)),
            t(N_("Relapse prevention plan updated this month: yes")) if content.plan_updated
            else t(N_("Relapse prevention plan updated this month: no")),
        ]

    def summary_text(self, content: ProgressContent, language: str) -> str:
        head = gettext_for(language, N_("Monthly progress report for client {code}, {month}:")
                           ).format(code=content.code, month=f"{content.month:%Y-%m}")
        return "\n".join([head, *self.lines(content, language)])

    def pdf_parts(self, content: ProgressContent, note: str, language: str, clinician: str
                  ) -> tuple[str, list[tuple[str, list[str]]]]:
        def t(message: str) -> str:
            return gettext_for(language, message)

        title = t(N_("Monthly progress report for client {code}, {month}:")).format(
            code=content.code, month=f"{content.month:%Y-%m}").rstrip(":")
        return title, [(t(N_("The month in numbers")), self.lines(content, language)),
                       (t(N_("Progress note from {name}")).format(name=clinician), [note])]

    async def _notice(self, uow: UnitOfWork, staff: Clinician, client: Client, text: str,
                      **values: str) -> None:
        lang = self._staff.of(staff).language
        await uow.outbox.add(chat_id=staff.telegram_id, kind="notice", method="sendMessage",
                             params={"text": gettext_for(lang, text).format(
                                 code=client.code, **values)},
                             now=self._clock.now(), client_id=client.id)


__all__ = ["LEAVES_OUT", "ProgressContent", "ProgressService", "month_after", "month_before"]
