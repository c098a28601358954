"""Appointments in the chat.

Staff: /appointment (record one), /appointments CODE (the client's next and latest, with
their answers and attendance), /attendance CODE MARK, and the attendance buttons of the
reminder. Clients: /appointments (their next ones), "I will be there" / "I cannot come",
and the reason typed after it."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import CallbackQuery, Message

from bot.callbacks import ATTENDANCE_LETTERS, AppointmentCb
from bot.filters import Role, client_of
from bot.outgoing import Outgoing
from journal.appointments import (
    ATTENDANCE_NAMES,
    AppointmentLine,
    AppointmentService,
    parse_request,
)
from journal.errors import InvalidInput
from journal.i18n import _
from journal.people import Person
from journal.times import shown_time
from storage.uow import UnitOfWork


class AwaitingReason(Filter):
    """The client pressed "I cannot come": their next text is the reason."""

    async def __call__(self, message: Message, person: Person, uow: UnitOfWork,
                       appointments: AppointmentService) -> bool:
        return (person.client is not None
                and await appointments.awaiting_reason(uow, person.client) is not None)


def _kinds_text(appointments: AppointmentService) -> str:
    lines = [_("Use: /appointment CODE KIND YYYY-MM-DD HH:MM [online | place], the time in "
               "the client's zone. Kinds:")]
    lines += [f"{code}: {_(name)}" for code, name in appointments.program.kinds.items()]
    return "\n".join(lines)


def _line(item: AppointmentLine, *, staff: bool) -> str:
    text = f"• {item.when}: {item.kind}"
    if item.where:
        text += f", {item.where}"
    if staff:
        text += f" ({item.response})"
        if item.attendance:
            text += " — " + item.attendance
    return text


# -- staff ----------------------------------------------------------------------------------
async def add_appointment(message: Message, command: CommandObject, person: Person,
                          uow: UnitOfWork, out: Outgoing,
                          appointments: AppointmentService) -> None:
    assert person.clinician is not None
    if not (command.args or "").strip():
        out.send(message.chat.id, _kinds_text(appointments))
        return
    client, appointment = await appointments.add(uow, person.clinician,
                                                 parse_request(command.args))
    locale = appointments.staff_locale(person.clinician)
    text = _("Appointment recorded for client {code}: {when}, {kind}.").format(
        code=client.code, when=shown_time(appointment.starts_at, locale.timezone),
        kind=appointments.program.kind_name(appointment.kind, locale.language))
    if client.telegram_id is None or client.unreachable:
        text += "\n" + _("The client cannot be reached in the chat, so they were not told.")
    else:
        text += "\n" + _("The client was told and will be reminded.")
    out.send(message.chat.id, text)


async def staff_list(message: Message, command: CommandObject, person: Person,
                     uow: UnitOfWork, out: Outgoing, appointments: AppointmentService) -> None:
    assert person.clinician is not None
    words = (command.args or "").split()
    if len(words) != 1:
        raise InvalidInput("no code", key="client.not_found")
    client, ahead, past = await appointments.for_staff(uow, person.clinician, words[0].upper())
    lines = [_("Appointments of client {code}").format(code=client.code)]
    lines.append(_("Next:"))
    lines += [_line(a, staff=True) for a in ahead] or [_("none")]
    lines.append(_("Latest:"))
    lines += [_line(a, staff=True) for a in past] or [_("none")]
    out.send(message.chat.id, "\n".join(lines))


async def attendance(message: Message, command: CommandObject, person: Person,
                     uow: UnitOfWork, out: Outgoing, appointments: AppointmentService) -> None:
    assert person.clinician is not None
    words = (command.args or "").split()
    if len(words) != 2 or words[1].lower() not in ATTENDANCE_NAMES:
        raise InvalidInput("bad attendance", key="attendance.usage")
    _client, appointment = await appointments.latest_unrecorded(uow, person.clinician,
                                                                words[0].upper())
    client, recorded = await appointments.record_attendance(
        uow, person.clinician, appointment.id, words[1].lower())
    out.send(message.chat.id, _recorded(appointments, person, client.code, recorded.starts_at,
                                        recorded.attendance or ""))


def _recorded(appointments: AppointmentService, person: Person, code: str, starts_at: object,
              mark: str) -> str:
    assert person.clinician is not None
    locale = appointments.staff_locale(person.clinician)
    return _("Recorded for client {code}, appointment of {when}: {mark}.").format(
        code=code, when=shown_time(starts_at, locale.timezone),  # type: ignore[arg-type]
        mark=_(ATTENDANCE_NAMES[mark]))


async def attendance_button(query: CallbackQuery, callback_data: AppointmentCb, person: Person,
                            uow: UnitOfWork, out: Outgoing,
                            appointments: AppointmentService) -> None:
    assert person.clinician is not None
    mark = ATTENDANCE_LETTERS.get(callback_data.action)
    if mark is None:
        out.answer(_("This button is no longer active."))
        return
    client, recorded = await appointments.record_attendance(
        uow, person.clinician, callback_data.appointment, mark)
    text = _recorded(appointments, person, client.code, recorded.starts_at, mark)
    out.answer()
    if query.message is not None:
        out.edit(query.from_user.id, query.message.message_id, text)
    else:
        out.send(query.from_user.id, text)


# -- clients ----------------------------------------------------------------------------------
async def client_list(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                      appointments: AppointmentService) -> None:
    items = await appointments.upcoming_for_client(uow, client_of(person))
    if not items:
        out.send(message.chat.id, _("You have no appointments coming up."))
        return
    out.send(message.chat.id, "\n".join([_("Your next appointments:")]
                                        + [_line(a, staff=False) for a in items]))


async def answer_button(query: CallbackQuery, callback_data: AppointmentCb, person: Person,
                        uow: UnitOfWork, out: Outgoing,
                        appointments: AppointmentService) -> None:
    client = client_of(person)
    chat_id = query.from_user.id
    if callback_data.action == "y":
        await appointments.confirm(uow, client, callback_data.appointment)
        out.answer(_("Thank you. See you then."))
        out.send(chat_id, _("Thank you. Your clinician has been told you will be there."))
    elif callback_data.action == "n":
        await appointments.decline(uow, client, callback_data.appointment)
        out.answer()
        out.send(chat_id, _("Thank you for letting us know. Your clinician has been told. "
                            "In your next message, please write in a few words why you "
                            "cannot come; it is stored encrypted. Send /skip to leave it "
                            "out."))
    else:
        out.answer(_("This button is no longer active."))


async def reason_text(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                      appointments: AppointmentService) -> None:
    client = client_of(person)
    await appointments.give_reason(uow, client, message.text or "")
    out.delete(message.chat.id, message.message_id)  # kept sealed, not in the chat
    out.send(message.chat.id, _("Thank you. Your reason was saved for your clinician."))


async def reason_other(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                       appointments: AppointmentService) -> None:
    out.send(message.chat.id, _("Please write the reason as text, or send /skip to leave it "
                                "out."))


async def skip_reason(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                      appointments: AppointmentService) -> None:
    await appointments.skip_reason(uow, client_of(person))
    out.send(message.chat.id, _("All right, no reason was saved."))


def build_staff_router() -> Router:
    router = Router(name=__name__ + ".staff")
    router.message.filter(Role("clinician", "supervisor"))
    router.callback_query.filter(Role("clinician", "supervisor"))
    router.message.register(add_appointment, Command("appointment"))
    router.message.register(staff_list, Command("appointments"))
    router.message.register(attendance, Command("attendance"))
    router.callback_query.register(attendance_button, AppointmentCb.filter())
    return router


def build_client_router() -> Router:
    router = Router(name=__name__ + ".client")
    router.message.filter(Role("client"))
    router.callback_query.filter(Role("client"))
    router.message.register(client_list, Command("appointments"))
    router.callback_query.register(answer_button, AppointmentCb.filter())
    router.message.register(skip_reason, Command("skip"), AwaitingReason())
    router.message.register(reason_text, F.text, ~F.text.startswith("/"), AwaitingReason())
    router.message.register(reason_other, ~F.text, AwaitingReason())
    return router
