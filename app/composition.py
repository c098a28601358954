"""The composition root: settings, a store and a clock in, every service built once out.

The bot and the workspace (`process/`) and the command line (`cli/`) all start here:
`build_services` builds them all; `LazyServices` builds each when first asked for, so an
admin command imports only what it uses. Nothing here imports aiogram."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from app.checks import key_setting, load_keyring, open_store  # noqa: F401 (callers' import)
from app.settings import Settings

if TYPE_CHECKING:  # built when first asked for: the admin commands need few of them
    from journal.administration import AdminService
    from journal.alerts.fallback import EmailFallback
    from journal.alerts.rules import RiskRules
    from journal.alerts.service import AlertService, EscalationPolicy
    from journal.appointments import AppointmentService
    from journal.calendar_feed import CalendarFeeds
    from journal.checkin.questionnaire import Questionnaire
    from journal.checkin.schedule import ScheduleService
    from journal.checkin.service import CheckInService
    from journal.clock import Clock
    from journal.dead_letters import DeliveryReport
    from journal.discharge import DischargeService
    from journal.enrolment import EnrolmentService
    from journal.entries import JournalService
    from journal.export.copy import ClientCopies
    from journal.export.figures import FiguresService
    from journal.groups import GroupService
    from journal.homework import HomeworkService
    from journal.phases.service import PhaseService
    from journal.plan_together import PlanTogether
    from journal.preferences import PreferencesService
    from journal.progress import ProgressService
    from journal.review.caseload import CaseloadService
    from journal.review.client_page import ClientPages
    from journal.review.service import ReviewService
    from journal.sharing import SharingService
    from journal.web_access import WebAccess
    from storage.keyring import KeyringService
    from storage.records import Appointment, Client
    from storage.uow import Store, UnitOfWork


@dataclass(frozen=True, kw_only=True)
class Services:
    """Everything a handler, a tick or an admin command may ask for, built once.

    Handlers receive each field by its name (aiogram's workflow data): a handler asking
    for `checkins: CheckInService` gets `Services.checkins`."""

    settings: Settings
    clock: Clock
    store: Store
    questionnaire: Questionnaire
    rules: RiskRules
    enrolment: EnrolmentService
    alerts: AlertService
    checkins: CheckInService
    journaling: JournalService
    preferences: PreferencesService
    delivery_report: DeliveryReport
    schedules: ScheduleService
    caseload: CaseloadService
    review: ReviewService
    discharge: DischargeService
    admin: AdminService
    web_access: WebAccess
    client_pages: ClientPages
    keyring: KeyringService
    figures: FiguresService
    copies: ClientCopies
    together: PlanTogether
    sharing: SharingService
    progress: ProgressService
    phases: PhaseService
    appointments: AppointmentService
    homework: HomeworkService
    groups: GroupService
    calendars: CalendarFeeds

    def by_name(self) -> dict[str, object]:
        """The services under their field names, as the dispatcher hands them to handlers."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def build_services(settings: Settings, store: Store, clock: Clock) -> Services:
    """Read the program's questionnaire and risk rules and build every service on them."""
    from journal.administration import AdminService
    from journal.alerts.rules_file import load_rules
    from journal.alerts.service import AlertService
    from journal.appointments import AppointmentService, load_program
    from journal.calendar_feed import CalendarFeeds
    from journal.checkin.questionnaire_file import load_questionnaire
    from journal.checkin.schedule import ScheduleService
    from journal.checkin.service import CheckInService
    from journal.dead_letters import DeliveryReport
    from journal.discharge import DischargeService
    from journal.enrolment import EnrolmentService
    from journal.entries import JournalService
    from journal.export.copy import ClientCopies
    from journal.export.figures import FiguresService
    from journal.groups import GroupService
    from journal.homework import HomeworkService, load_library
    from journal.phases.file import load_phases
    from journal.phases.service import PhaseService
    from journal.plan_parts import default_parts
    from journal.plan_together import PlanTogether
    from journal.preferences import PreferencesService
    from journal.progress import ProgressService
    from journal.review.caseload import CaseloadService
    from journal.review.client_page import ClientPages
    from journal.review.service import ReviewService
    from journal.web_access import WebAccess
    from storage.keyring import KeyringService

    sharing = sharing_service(settings, clock)
    questionnaire = load_questionnaire(settings.questionnaire)
    default_parts()  # the plan's parts file, validated at start with every problem listed
    rules = load_rules(settings.risk_rules, questionnaire=questionnaire)
    phases = PhaseService(
        clock=clock, phases=load_phases(settings.phases, questionnaire=questionnaire, rules=rules),
        rating_days=settings.rating_days, staff_language=settings.default_language,
        display_timezone=settings.default_timezone, domains=rated_domains(questionnaire))
    alerts = AlertService(
        clock=clock, questionnaire=questionnaire, rules=rules,
        detail=settings.alert_detail, staff_language=settings.default_language,
        display_timezone=settings.default_timezone, escalation=escalation_policy(settings),
        team=sharing,
        phases=phases)
    program = load_program(settings.appointments)

    async def tell_officers(uow: UnitOfWork, client: Client, appointment: Appointment) -> None:
        await sharing.missed_appointment(uow, client, appointment, program.kind_name)

    appointments = AppointmentService(
        clock=clock, program=program, alerts=alerts,
        staff_language=settings.default_language, display_timezone=settings.default_timezone,
        no_show_hooks=(tell_officers,))
    homework = HomeworkService(
        clock=clock, store=store, library=load_library(settings.homework),
        hygiene=settings.chat_hygiene, staff_language=settings.default_language,
        display_timezone=settings.default_timezone)
    return Services(
        settings=settings, clock=clock, store=store, questionnaire=questionnaire, rules=rules,
        enrolment=EnrolmentService(
            clock=clock, invite_ttl=timedelta(hours=settings.invite_ttl_hours),
            default_language=settings.default_language,
            default_timezone=settings.default_timezone,
            default_checkin_time=settings.default_checkin_time,
            staff_language=settings.default_language),
        alerts=alerts,
        checkins=CheckInService(
            clock=clock, questionnaire=questionnaire, alerts=alerts, store=store,
            later_delay=timedelta(minutes=settings.later_delay_minutes),
            window=timedelta(hours=settings.checkin_window_hours), phases=phases),
        journaling=JournalService(
            clock=clock, store=store, hygiene=settings.chat_hygiene,
            view_ttl=timedelta(minutes=settings.journal_view_ttl_minutes)),
        preferences=PreferencesService(
            clock=clock, crisis_phone=settings.crisis_phone, crisis_text=settings.crisis_text,
            office_phone=settings.program_office_phone),
        delivery_report=DeliveryReport(clock=clock, staff_language=settings.default_language),
        schedules=ScheduleService(clock=clock, team=sharing),
        caseload=CaseloadService(clock=clock, staff_language=settings.default_language,
                                 phases=phases),
        review=ReviewService(
            clock=clock, questionnaire=questionnaire, rules=rules,
            staff_language=settings.default_language,
            display_timezone=settings.default_timezone, phases=phases),
        discharge=DischargeService(clock=clock, retention=timedelta(days=settings.retention_days),
                                   team=sharing),
        admin=AdminService(store=store, clock=clock, staff_language=settings.default_language,
                           sharing=sharing),
        sharing=sharing,
        progress=ProgressService(clock=clock, sharing=sharing,
                                 report_day=settings.progress_report_day,
                                 staff_language=settings.default_language,
                                 display_timezone=settings.default_timezone),
        keyring=KeyringService(store=store, clock=clock),
        web_access=WebAccess(clock=clock, idle=timedelta(minutes=settings.web_session_idle_minutes),
                             limit=timedelta(hours=settings.web_session_max_hours)),
        client_pages=ClientPages(clock=clock, questionnaire=questionnaire, rules=rules,
                                 phases=phases),
        figures=FiguresService(clock=clock, by_clinician=settings.figures_by_clinician),
        copies=ClientCopies(clock=clock, questionnaire=questionnaire,
                            staff_language=settings.default_language),
        together=PlanTogether(clock=clock, alerts=alerts),
        phases=phases,
        appointments=appointments, homework=homework,
        groups=GroupService(clock=clock, appointments=appointments, homework=homework,
                            questionnaire=questionnaire,
                            default_timezone=settings.default_timezone),
        calendars=CalendarFeeds(clock=clock, program=appointments.program,
                                staff_language=settings.default_language))


def sharing_service(settings: Settings, clock: Clock) -> SharingService:
    from journal.sharing import SharingService

    return SharingService(clock=clock, allowed=settings.sharing_categories.split(","),
                          staff_language=settings.default_language,
                          display_timezone=settings.default_timezone)


def rated_domains(questionnaire: Questionnaire) -> tuple[str, ...]:
    """The domains the check-in tracks (named in [domains] and scored by an item), in order."""
    scored = {item.domain for item in questionnaire.items if item.domain is not None}
    return tuple(d for d in questionnaire.domains if d in scored)


def escalation_policy(settings: Settings) -> EscalationPolicy:
    from journal.alerts.service import EscalationPolicy

    return EscalationPolicy({"critical": settings.escalate_critical_minutes,
                             "high": settings.escalate_high_minutes,
                             "elevated": settings.escalate_elevated_minutes})


def email_fallback(settings: Settings, store: Store, clock: Clock) -> EmailFallback | None:
    """The e-mail fallback, or None when no SMTP server is configured."""
    if not settings.smtp_host:
        return None
    from app.mail import SmtpMailer
    from journal.alerts.fallback import EmailFallback

    return EmailFallback(store=store, clock=clock, mailer=SmtpMailer.from_settings(settings),
                         after=timedelta(minutes=settings.email_fallback_minutes),
                         program=settings.program_name,
                         staff_language=settings.default_language,
                         display_timezone=settings.default_timezone)


class LazyServices:
    """Services' fields under the same names; the ones admin commands use are built alone,
    any other from the whole composition root (build_services)."""

    def __init__(self, settings: Settings, store: Store, clock: Clock) -> None:
        self.settings, self.store, self.clock = settings, store, clock

    @functools.cached_property
    def admin(self) -> AdminService:
        from journal.administration import AdminService

        return AdminService(store=self.store, clock=self.clock,
                            staff_language=self.settings.default_language,
                            sharing=self.sharing)

    @functools.cached_property
    def sharing(self) -> SharingService:
        return sharing_service(self.settings, self.clock)

    @functools.cached_property
    def keyring(self) -> KeyringService:
        from storage.keyring import KeyringService

        return KeyringService(store=self.store, clock=self.clock)

    @functools.cached_property
    def caseload(self) -> CaseloadService:
        from journal.review.caseload import CaseloadService

        return CaseloadService(clock=self.clock, staff_language=self.settings.default_language)

    @functools.cached_property
    def figures(self) -> FiguresService:
        from journal.export.figures import FiguresService

        return FiguresService(clock=self.clock,
                              by_clinician=self.settings.figures_by_clinician)

    @functools.cached_property
    def _everything(self) -> Services:
        return build_services(self.settings, self.store, self.clock)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._everything, name)
