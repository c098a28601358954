"""The bot: aiogram wired around the shared services (app/composition.py): the dispatcher
and its handlers, the middleware, delivery and the scheduler's ticks. Nothing is built at
import time; process/run.py runs what build_app returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aiogram import Bot, Dispatcher
from aiogram.client.telegram import TelegramAPIServer

from app.composition import Services, build_services, email_fallback, open_store
from app.settings import Settings
from bot.delivery import DeliveryWorker
from bot.handlers import all_routers
from bot.middleware import UnitOfWorkMiddleware
from bot.ratelimit import RateLimiter
from bot.sender import Sender
from bot.telegram_session import TelegramSession
from journal.alerts.fallback import EmailFallback
from journal.clock import Clock, SystemClock
from scheduler.runner import SchedulerRunner
from scheduler.ticks import Ticks
from storage.instances import Instances
from storage.uow import Store


@dataclass
class App:
    """The running bot: the shared services plus what only the Telegram side needs."""

    services: Services
    bot: Bot
    dispatcher: Dispatcher
    sender: Sender  # every send of the bot: replies, delivery, menus
    delivery: DeliveryWorker
    scheduler: SchedulerRunner | None = None
    email_fallback: EmailFallback | None = None  # None: no SMTP server configured
    instances: Instances | None = None  # None: SQLite, one instance by design

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def clock(self) -> Clock:
        return self.services.clock

    @property
    def store(self) -> Store:
        return self.services.store

    async def close(self) -> None:
        await self.bot.session.close()
        if self.instances is not None:  # hands delivery over at once, not at a time-out
            await self.instances.close()
        await self.store.close()


def build_app(settings: Settings, *, clock: Clock | None = None, store: Store | None = None) -> App:
    """Wire aiogram around the services: the dispatcher and its handlers, delivery, and the
    scheduler's ticks."""
    clock = clock or SystemClock()
    services = build_services(settings, store or open_store(settings), clock)
    store = services.store
    session = TelegramSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    bot = Bot(token=settings.require_token(), session=session)
    # Every send of this bot goes through it, within one limit: replies, delivery, menus.
    sender = Sender(bot, RateLimiter())
    # On PostgreSQL several instances may serve one bot: they share its limit and one of
    # them delivers the outbox (storage/instances.py).
    instances = Instances(settings.database_url) if store.postgres else None
    dp = Dispatcher(disable_fsm=True)  # conversation state lives in the database
    dp.workflow_data.update(services.by_name())  # handlers receive each service by name
    dp.update.outer_middleware(UnitOfWorkMiddleware(
        store, clock, sender=sender, staff_language=services.settings.default_language))
    for router in all_routers():
        dp.include_router(router)
    delivery = DeliveryWorker(store=store, clock=clock, alerts=services.alerts,
                              sender=sender, instances=instances,
                              lease=timedelta(seconds=settings.outbox_lease_seconds),
                              base_backoff=settings.delivery_base_backoff_seconds,
                              max_backoff=settings.delivery_max_backoff_seconds)
    runner = None
    if settings.scheduler_enabled:
        reminder = settings.reminder_delay_minutes
        ticks = Ticks(
            store=store, clock=clock, checkins=services.checkins, alerts=services.alerts,
            reminder_delay=timedelta(minutes=reminder) if reminder else None,
            lookback_days=settings.catchup_days, phases=services.phases.phases,
            # erase once retention has passed; last month's progress reports from their day
            extra_steps=[services.discharge.retention_step, services.progress.progress_step],
            appointments=services.appointments, homework=services.homework)
        runner = SchedulerRunner(ticks, interval=timedelta(seconds=settings.tick_seconds))
    return App(services=services, bot=bot, dispatcher=dp, sender=sender, delivery=delivery,
               scheduler=runner,
               email_fallback=email_fallback(settings, store, clock), instances=instances)


