"""Clinician control of a client's schedule: /schedule, /pause, /resume."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.filters import Role
from bot.outgoing import Outgoing
from journal.checkin.schedule import (
    PAUSE_REASON_NAMES,
    ScheduleService,
    days_text,
    parse_code,
    parse_pause,
    parse_schedule,
)
from journal.i18n import _, current_language
from journal.people import Person
from storage.records import Client
from storage.uow import UnitOfWork


def _schedule_text(client: Client) -> str:
    lines = [_("Client {code}: daily check-in at {time} ({timezone}), {days}.").format(
        code=client.code, time=client.checkin_time, timezone=client.timezone,
        days=days_text(client.checkin_days, current_language.get()))]
    if client.window_start and client.window_end:
        lines.append(_("The client may choose their own time between {start} and {end} "
                       "({timezone}).").format(start=client.window_start,
                                               end=client.window_end, timezone=client.timezone))
    else:
        lines.append(_("The client may choose any time of day."))
    if client.status == "paused":
        lines.append(_("Check-ins stay paused until /resume {code}.").format(code=client.code))
    return "\n".join(lines)


async def schedule(message: Message, command: CommandObject, person: Person, uow: UnitOfWork,
                   out: Outgoing, schedules: ScheduleService) -> None:
    assert person.clinician is not None
    client = await schedules.set_schedule(uow, person.clinician, parse_schedule(command.args))
    out.send(message.chat.id, _schedule_text(client))


async def pause(message: Message, command: CommandObject, person: Person, uow: UnitOfWork,
                out: Outgoing, schedules: ScheduleService) -> None:
    assert person.clinician is not None
    code, reason = parse_pause(command.args)
    client = await schedules.pause(uow, person.clinician, code, reason)
    out.send(message.chat.id, _(
        "Client {code} is paused ({reason}). No check-in prompts and no missed-day alerts "
        "until /resume {code}.").format(code=client.code, reason=_(PAUSE_REASON_NAMES[reason])))


async def resume(message: Message, command: CommandObject, person: Person, uow: UnitOfWork,
                 out: Outgoing, schedules: ScheduleService) -> None:
    assert person.clinician is not None
    client, changed = await schedules.resume(uow, person.clinician, parse_code(command.args))
    if not changed:
        out.send(message.chat.id, _("Client {code} is not paused.").format(code=client.code))
        return
    out.send(message.chat.id, _(
        "Client {code} is active again; the next check-in comes at {time} ({timezone}). "
        "The paused days are not counted as missed.").format(
            code=client.code, time=client.checkin_time, timezone=client.timezone))


def build_router() -> Router:
    """A fresh router per application: aiogram attaches a router to one dispatcher."""
    router = Router(name=__name__)
    router.message.filter(Role("clinician", "supervisor"))
    router.message.register(schedule, Command("schedule"))
    router.message.register(pause, Command("pause"))
    router.message.register(resume, Command("resume"))
    return router
