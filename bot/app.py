"""The composition root: settings in, a running bot out. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramUnauthorizedError
from aiogram.types import BotCommand, BotCommandScopeChat, User

from bot.bootstrap import check_keys_open_database, open_store
from bot.commands import menu
from bot.delivery import DeliveryWorker
from bot.handlers import all_routers
from bot.middleware import UnitOfWorkMiddleware
from bot.runtime import WebhookConfig, install_signal_handlers, poll, serve_webhook
from bot.settings import Settings, SettingsError
from journal.alerts import AlertService, EscalationPolicy
from journal.checkins import CheckInService
from journal.clock import Clock, SystemClock
from journal.deliveries import DeliveryReport
from journal.discharge import DischargeService
from journal.enrolment import EnrolmentService
from journal.fallback import EmailFallback
from journal.journaling import JournalService
from journal.preferences import PreferencesService
from journal.questionnaire import load_questionnaire
from journal.review import CaseloadService, ReviewService
from journal.risk import load_rules
from journal.schedule import ScheduleService
from scheduler.runner import SchedulerRunner
from scheduler.ticks import Ticks
from storage.migrate import upgrade
from storage.uow import Store

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    clock: Clock
    store: Store
    bot: Bot
    dispatcher: Dispatcher
    delivery: DeliveryWorker
    services: dict[str, object] = field(default_factory=dict)
    scheduler: SchedulerRunner | None = None
    email_fallback: EmailFallback | None = None  # None: no SMTP server configured

    async def close(self) -> None:
        await self.bot.session.close()
        await self.store.close()


def build_app(settings: Settings, *, clock: Clock | None = None, store: Store | None = None) -> App:
    clock = clock or SystemClock()
    store = store or open_store(settings)
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    bot = Bot(token=settings.require_token(), session=session)
    services: dict[str, object] = {
        "enrolment": EnrolmentService(
            clock=clock, invite_ttl=timedelta(hours=settings.invite_ttl_hours),
            default_language=settings.default_language,
            default_timezone=settings.default_timezone,
            default_checkin_time=settings.default_checkin_time,
            staff_language=settings.default_language),
        "settings": settings,
        "clock": clock,
        "store": store,
    }
    questionnaire = load_questionnaire(settings.questionnaire)
    services["questionnaire"] = questionnaire
    rules = load_rules(settings.risk_rules, questionnaire=questionnaire)
    alerts = services["alerts"] = AlertService(
        clock=clock, questionnaire=questionnaire, rules=rules,
        detail=settings.alert_detail, staff_language=settings.default_language,
        display_timezone=settings.default_timezone, escalation=escalation_policy(settings))
    services["checkins"] = CheckInService(
        clock=clock, questionnaire=questionnaire, alerts=alerts, store=store,
        later_delay=timedelta(minutes=settings.later_delay_minutes),
        window=timedelta(hours=settings.checkin_window_hours))
    services["journaling"] = JournalService(
        clock=clock, store=store, hygiene=settings.chat_hygiene,
        view_ttl=timedelta(minutes=settings.journal_view_ttl_minutes))
    services["preferences"] = PreferencesService(
        clock=clock, crisis_phone=settings.crisis_phone, crisis_text=settings.crisis_text,
        office_phone=settings.program_office_phone)
    services["delivery_report"] = DeliveryReport(clock=clock, staff_language=settings.default_language)
    services["schedules"] = ScheduleService(clock=clock)
    services["caseload"] = CaseloadService(clock=clock, staff_language=settings.default_language)
    services["review"] = ReviewService(
        clock=clock, questionnaire=questionnaire, rules=rules,
        staff_language=settings.default_language, display_timezone=settings.default_timezone)
    discharge = services["discharge"] = DischargeService(
        clock=clock, retention=timedelta(days=settings.retention_days))
    dp = Dispatcher()
    dp.workflow_data.update(services)  # handlers receive each service by name
    dp.update.outer_middleware(UnitOfWorkMiddleware(store, clock))
    for router in all_routers():
        dp.include_router(router)
    delivery = DeliveryWorker(store=store, bot=bot, clock=clock, alerts=alerts,
                              lease=timedelta(seconds=settings.outbox_lease_seconds),
                              base_backoff=settings.delivery_base_backoff_seconds,
                              max_backoff=settings.delivery_max_backoff_seconds)
    runner = None
    if settings.scheduler_enabled:
        reminder = settings.reminder_delay_minutes
        checkins = services["checkins"]
        assert isinstance(checkins, CheckInService)
        ticks = Ticks(
            store=store, clock=clock, checkins=checkins, alerts=alerts,
            questionnaire=questionnaire,
            window=timedelta(hours=settings.checkin_window_hours),
            reminder_delay=timedelta(minutes=reminder) if reminder else None,
            lookback_days=settings.catchup_days,
            extra_steps=[discharge.retention_step])  # erase once retention has passed
        runner = SchedulerRunner(ticks, interval=timedelta(seconds=settings.tick_seconds))
    return App(settings=settings, clock=clock, store=store, bot=bot, dispatcher=dp,
               delivery=delivery, services=services, scheduler=runner,
               email_fallback=email_fallback(settings, store, clock))


def escalation_policy(settings: Settings) -> EscalationPolicy:
    return EscalationPolicy({"critical": settings.escalate_critical_minutes,
                             "high": settings.escalate_high_minutes,
                             "elevated": settings.escalate_elevated_minutes})


def email_fallback(settings: Settings, store: Store, clock: Clock) -> EmailFallback | None:
    if not settings.smtp_host:
        return None
    from bot.mail import SmtpMailer

    return EmailFallback(store=store, clock=clock, mailer=SmtpMailer.from_settings(settings),
                         after=timedelta(minutes=settings.email_fallback_minutes),
                         program=settings.program_name,
                         staff_language=settings.default_language,
                         display_timezone=settings.default_timezone)


async def _get_me(bot: Bot, settings: Settings) -> User:
    """Who the bot is; a Telegram that does not answer or refuses the token stops the start
    with one line naming the setting (never the token, which is part of the URL)."""
    try:
        return await bot.get_me(request_timeout=20)
    except TelegramUnauthorizedError:
        raise SettingsError("STEADFAST_BOT_TOKEN was refused by Telegram (401 Unauthorized): "
                            "check the token BotFather gave") from None
    except (TelegramNetworkError, OSError) as exc:
        raise SettingsError(f"STEADFAST_TELEGRAM_API_URL {settings.telegram_api_url} does not "
                            f"answer ({type(exc).__name__})") from None
    except TelegramAPIError as exc:
        raise SettingsError(f"STEADFAST_TELEGRAM_API_URL {settings.telegram_api_url} refused "
                            f"getMe ({type(exc).__name__})") from None


async def register_commands(app: App) -> None:
    """Each person sees only their own role's commands; strangers see none."""
    await app.bot.delete_my_commands()
    async with app.store.unit_of_work() as uow:
        staff = await uow.clinicians.everyone()
        clients = await uow.clients.for_clinician(None)
    people: list[tuple[int, str, str]] = [
        (c.telegram_id, c.role, app.settings.default_language) for c in staff if c.active]
    people += [(c.telegram_id, "client", c.language) for c in clients if c.telegram_id]
    for chat_id, kind, language in people:
        try:
            await app.bot.set_my_commands(
                [BotCommand(command=n, description=d) for n, d in menu(kind, language)],
                scope=BotCommandScopeChat(chat_id=chat_id))
        except Exception as exc:  # a chat that never talked to the bot cannot get a menu
            log.info("no command menu for one chat: %s", type(exc).__name__)


async def run_bot(settings: Settings, *, webhook: WebhookConfig | None = None,
                  stop: asyncio.Event | None = None, clock: Clock | None = None,
                  migrate: bool = True, handle_signals: bool = True,
                  ready: asyncio.Event | None = None) -> None:
    """Migrate, start delivery, serve updates until SIGTERM/SIGINT, then close everything."""
    if migrate:
        await asyncio.to_thread(upgrade, settings.database_url)
    app = build_app(settings, clock=clock)
    try:  # a start refused for its settings says only why, not that it stopped
        await check_keys_open_database(app.store, settings)
        me = await _get_me(app.bot, settings)
    except BaseException:
        await app.close()
        raise
    stop = stop or asyncio.Event()
    if handle_signals:
        install_signal_handlers(stop, reload_keys=app.store.reload_keys)
    tasks: list[asyncio.Task[None]] = []
    try:
        app.dispatcher["bot_username"] = me.username or "bot"
        await register_commands(app)
        tasks.append(asyncio.create_task(app.delivery.run(stop), name="delivery"))
        if app.email_fallback is not None:
            from bot.mail import run_fallback

            tasks.append(asyncio.create_task(run_fallback(app.email_fallback, stop),
                                             name="email-fallback"))
        else:
            log.warning("e-mail fallback is off: STEADFAST_SMTP_HOST is not set")
        started = asyncio.Event()

        async def announce() -> None:
            await started.wait()
            if app.scheduler is not None:  # ticks begin once updates are being served
                app.scheduler.start()
            log.info("Steadfast is running as @%s (%s)", me.username,
                     "webhook" if webhook else "polling")
            if ready is not None:
                ready.set()

        tasks.append(asyncio.create_task(announce(), name="announce"))
        if webhook is None:
            started.set()
            await poll(app.bot, app.dispatcher, stop)
        else:
            await serve_webhook(app.bot, app.dispatcher, webhook, stop, started=started)
    finally:
        stop.set()
        if app.scheduler is not None:  # no tick may still run when the store closes
            await app.scheduler.stop()
        for task in tasks:
            try:
                await asyncio.wait_for(task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        await app.close()
        log.info("Steadfast stopped cleanly")
