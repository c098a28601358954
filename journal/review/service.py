"""The clinician's review as one service for the bot and the command line.

Each view lives in its own module (summary, history, plan, report_data); this class holds
what they share (the clock, the questionnaire, the rules, the program's staff defaults) so
callers wire one object. Each view is written in the viewer's own language and zone
(journal/staff.py), the program's defaults for those who set none."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING

from journal.alerts.rules import RiskRules
from journal.checkin.questionnaire import Questionnaire
from journal.clock import Clock
from journal.people import actor_of, existing_client, visible_client
from journal.review import plan as plans
from journal.review.client_page import Since
from journal.review.history import HistoryPage, history_page
from journal.review.indicators import Indicators
from journal.review.report import ReportData, build_report, build_since_report
from journal.review.report_data import DEFAULT_REPORT_DAYS, report_data
from journal.review.situations import domain_series
from journal.review.summary import ClientSummary, client_summary
from journal.staff import StaffDefaults, StaffLocale
from storage.records import Client, Clinician, Plan, PlanVersion
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from journal.phases.service import PhaseService


class ReviewService:
    def __init__(self, *, clock: Clock, questionnaire: Questionnaire, rules: RiskRules,
                 staff_language: str = "en", display_timezone: str = "UTC",
                 phases: PhaseService | None = None) -> None:
        self._phases = phases
        self._clock = clock
        self._q = questionnaire
        self._rules = rules
        self._indicators = Indicators(questionnaire, rules)
        self._staff = StaffDefaults(staff_language, display_timezone)

    @property
    def display_timezone(self) -> str:
        """The program's zone, for staff who set none of their own."""
        return self._staff.timezone

    def locale_of(self, clinician: Clinician | None) -> StaffLocale:
        """The language and zone `clinician` reads in."""
        return self._staff.of(clinician)

    async def summary(self, uow: UnitOfWork, clinician: Clinician, code: str) -> ClientSummary:
        locale = self.locale_of(clinician)
        summary = await client_summary(uow, clinician, code, now=self._clock.now(),
                                       indicators=self._indicators, language=locale.language,
                                       timezone=locale.timezone,
                                       reason_label=self._rules.reason_label)
        if self._phases is None:
            return summary
        today = summary.today
        month_start = today - timedelta(days=29)
        checkins = await uow.checkins.recent(summary.client.id, since=month_start, until=today)
        month = domain_series(self._indicators.points(checkins, month_start, today),
                              list(summary.domain_labels))
        phase = await self._phases.review(uow, summary.client, language=locale.language,
                                          timezone=locale.timezone,
                                          labels=summary.domain_labels, month=month,
                                          reason_label=self._rules.reason_label)
        return dataclasses.replace(summary, phase=phase)

    async def history(self, uow: UnitOfWork, clinician: Clinician, code: str, page: int,
                      ) -> HistoryPage:
        return await history_page(uow, clinician, code, page, now=self._clock.now(),
                                  questionnaire=self._q, indicators=self._indicators,
                                  language=self.locale_of(clinician).language)

    # -- plan ----------------------------------------------------------------------------
    @staticmethod
    def editable(client: Client) -> bool:
        return plans.editable(client)

    async def plan(self, uow: UnitOfWork, clinician: Clinician, code: str, *,
                   edit: bool = False) -> tuple[Client, Plan]:
        return await plans.view_plan(uow, clinician, code, now=self._clock.now(), edit=edit)

    async def plan_reply(self, uow: UnitOfWork, clinician: Clinician, text: str
                         ) -> tuple[Client, Plan] | None:
        return await plans.plan_reply(uow, clinician, text, now=self._clock.now())

    async def edit_plan(self, uow: UnitOfWork, clinician: Clinician, code: str, text: str,
                        reason: str = "") -> tuple[Client, Plan]:
        return await plans.edit_plan(uow, clinician, code, text, now=self._clock.now(),
                                     reason=reason)

    async def edit_part(self, uow: UnitOfWork, clinician: Clinician, code: str, part: str,
                        rows: list[plans.FormRow], reason: str) -> tuple[Client, Plan]:
        return await plans.edit_part(uow, clinician, code, part, rows, reason=reason,
                                     now=self._clock.now())

    async def plan_history(self, uow: UnitOfWork, clinician: Clinician, code: str
                           ) -> tuple[Client, list[PlanVersion]]:
        return await plans.plan_history(uow, clinician, code, now=self._clock.now())

    # -- report --------------------------------------------------------------------------
    async def report(self, uow: UnitOfWork, clinician: Clinician, code: str,
                     days: int = DEFAULT_REPORT_DAYS) -> ReportData:
        client = await visible_client(uow, clinician, code)
        return await self._report(uow, client, days, actor_of(clinician),
                                  self.locale_of(clinician))

    async def report_for_admin(self, uow: UnitOfWork, code: str,
                               days: int = DEFAULT_REPORT_DAYS, *,
                               actor: str = "admin:cli") -> ReportData:
        """The command line's report: the administrator sees every client but erased ones."""
        client = await existing_client(uow, code)
        return await self._report(uow, client, days, actor, self.locale_of(None))

    async def _report(self, uow: UnitOfWork, client: Client, days: int, actor: str,
                      locale: StaffLocale) -> ReportData:
        return await report_data(uow, client, days, actor, now=self._clock.now(),
                                 questionnaire=self._q, indicators=self._indicators,
                                 language=locale.language, timezone=locale.timezone,
                                 reason_label=self._rules.reason_label, phases=self._phases)

    def reason_label(self, code: str) -> str:
        """The msgid naming an alert reason, from the program's rules."""
        return self._rules.reason_label(code)

    async def render_report(self, data: ReportData) -> bytes:
        """The PDF, built in the renderer's worker process: charts and layout are CPU-bound,
        and matplotlib and fpdf2 would stay in the bot's memory for good."""
        from journal.review.renderer import RENDERER  # multiprocessing, only once needed

        return await RENDERER.run(build_report, data)

    async def render_since(self, view: Since, language: str, timezone: str) -> bytes:
        """The "since the last session" page as a one-page PDF, built as the report is."""
        from journal.review.renderer import RENDERER

        return await RENDERER.run(build_since_report, view, language, timezone)


__all__ = ["ReviewService"]
