"""Clinicians review in session: /caseload, /client, history pages, /report, /plan,
/discharge and, for supervisors, /reassign.

Every button carries only a client code and a page; the services check the presser's
access again on every press, so a forged or stale button answers like a missing client.
Messages that show decrypted answers, journal text, the plan or a report delete themselves.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from app.settings import Settings
from bot.callbacks import DischargeCb, ReviewCb, SuggestionCb
from bot.ephemeral import Ephemeral
from bot.filters import Role
from bot.outgoing import Outgoing
from bot.views.chat import keyboard
from bot.views.review import (
    caseload_messages,
    discharge_question,
    history_buttons,
    history_text,
    plan_view,
    summary_buttons,
    summary_caption,
    summary_text,
)
from journal.clock import Clock
from journal.discharge import DischargeService
from journal.errors import InvalidInput
from journal.i18n import N_, _, current_language, ngettext
from journal.people import Person
from journal.plan_together import PlanTogether
from journal.review.caseload import CaseloadService
from journal.review.plan import editable as review_editable
from journal.review.plan import parts
from journal.review.report import report_filename
from journal.review.report_data import DEFAULT_REPORT_DAYS, MAX_REPORT_DAYS
from journal.review.service import ReviewService
from storage.records import Clinician
from storage.uow import Store, UnitOfWork

USAGE = {
    "client": N_("Use: /client CODE"),
    "plan": N_("Use: /plan CODE to see a client's plan and change it."),
    "discharge": N_("Use: /discharge CODE"),
    "reassign": N_("Use: /reassign CODE TELEGRAM_ID (the new clinician's Telegram id)"),
}


def _detail(store: Store, clock: Clock, settings: Settings) -> Ephemeral:
    """Messages showing decrypted detail go after the detail time-to-live."""
    return Ephemeral(store, clock, timedelta(minutes=settings.detail_ttl_minutes))


def _staff(person: Person) -> Clinician:
    assert person.clinician is not None  # the router's Role filter lets only staff in
    return person.clinician


def _one_code(command: CommandObject) -> str | None:
    words = (command.args or "").split()
    return words[0] if len(words) == 1 else None


# --- caseload and summary ---------------------------------------------------------------


async def show_caseload(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                        caseload: CaseloadService) -> None:
    clinician = _staff(person)
    entries = await caseload.caseload(uow, clinician)
    for text, markup in caseload_messages(entries, supervisor=clinician.is_supervisor):
        out.send(message.chat.id, text, markup)


async def _send_summary(chat_id: int, code: str, clinician: Clinician, uow: UnitOfWork,
                        out: Outgoing, review: ReviewService, gone: Ephemeral) -> None:
    summary = await review.summary(uow, clinician, code)
    out.send_photo(chat_id, summary.chart, summary_caption(summary), on_sent=gone.hook(chat_id))
    out.send(chat_id, summary_text(summary, gone.minutes), summary_buttons(summary.client.code),
             on_sent=gone.hook(chat_id))


async def show_client(message: Message, command: CommandObject, person: Person,
                      uow: UnitOfWork, out: Outgoing, review: ReviewService, store: Store,
                      clock: Clock, settings: Settings) -> None:
    code = _one_code(command)
    if code is None:
        out.send(message.chat.id, _(USAGE["client"]))
        return
    await _send_summary(message.chat.id, code, _staff(person), uow, out, review,
                        _detail(store, clock, settings))


# --- report -----------------------------------------------------------------------------


def _report_args(command: CommandObject) -> tuple[str, int]:
    words = (command.args or "").split()
    if not 1 <= len(words) <= 2:
        raise InvalidInput("usage", key="report.days")
    days = DEFAULT_REPORT_DAYS
    if len(words) == 2:
        if not (words[1].isascii() and words[1].isdigit() and len(words[1]) <= 3
                and 1 <= int(words[1]) <= MAX_REPORT_DAYS):
            raise InvalidInput("days out of range", key="report.days")
        days = int(words[1])
    return words[0], days


async def _send_report(chat_id: int, code: str, days: int, clinician: Clinician,
                       uow: UnitOfWork, out: Outgoing, review: ReviewService,
                       gone: Ephemeral) -> None:
    data = await review.report(uow, clinician, code, days)
    caption = ngettext("Session report for client {code}, {days} day.",
                       "Session report for client {code}, {days} days.", data.period_days).format(
        code=data.client_code, days=data.period_days) + " " + ngettext(
        "Save it now if you need it: this message is deleted in {n} minute.",
        "Save it now if you need it: this message is deleted in {n} minutes.",
        gone.minutes).format(n=gone.minutes)
    # Built after the transaction commits, off the event loop: no lock is held meanwhile.
    out.send_document(chat_id, partial(review.render_report, data),
                      report_filename(data.client_code, data.start, data.end,
                                      data.generated_at.date()), caption,
                      on_sent=gone.hook(chat_id))


async def show_report(message: Message, command: CommandObject, person: Person,
                      uow: UnitOfWork, out: Outgoing, review: ReviewService, store: Store,
                      clock: Clock, settings: Settings) -> None:
    code, days = _report_args(command)
    await _send_report(message.chat.id, code, days, _staff(person), uow, out, review,
                       _detail(store, clock, settings))


# --- plan -------------------------------------------------------------------------------


async def plan_command(message: Message, command: CommandObject, person: Person,
                       uow: UnitOfWork, out: Outgoing, review: ReviewService, store: Store,
                       clock: Clock, settings: Settings, together: PlanTogether) -> None:
    """/plan CODE shows the plan and waits for the new one; /plan CODE followed by the
    sections on the next lines changes it at once."""
    code, _sep, body = (command.args or "").strip().partition("\n")
    words = code.split()
    if len(words) != 1:
        out.send(message.chat.id, _(USAGE["plan"]))
        return
    gone = _detail(store, clock, settings)
    if body.strip():
        client, plan = await review.edit_plan(uow, _staff(person), words[0], body)
        _plan_saved(message, client.code, out)
    else:
        client, plan = await review.plan(uow, _staff(person), words[0], edit=True)
    out.send(message.chat.id, plan_view(client, plan, current_language.get(), gone.minutes,
                                        editable=not body.strip() and review.editable(client)),
             on_sent=gone.hook(message.chat.id))
    await _suggestions(message.chat.id, client.code, _staff(person), uow, out, together, gone)


async def _suggestions(chat_id: int, code: str, clinician: Clinician, uow: UnitOfWork,
                       out: Outgoing, together: PlanTogether, gone: Ephemeral) -> None:
    """Each open suggestion of the client, with its buttons (its text goes with the view)."""
    client, open_ones = await together.open_suggestions(uow, clinician, code)
    if not review_editable(client):
        return
    titles = parts().titles
    for suggestion in open_ones:
        out.send(chat_id, _("Client {code} suggests for \"{part}\":\n{text}").format(
            code=client.code, part=_(titles.get(suggestion.part, suggestion.part)),
            text=suggestion.text), keyboard([[
                (_("Accept"), SuggestionCb(action="accept", id=suggestion.id).pack()),
                (_("Edit"), SuggestionCb(action="edit", id=suggestion.id).pack()),
                (_("Decline"), SuggestionCb(action="decline", id=suggestion.id).pack())]]),
            on_sent=gone.hook(chat_id))


async def suggestion_button(query: CallbackQuery, callback_data: SuggestionCb, person: Person,
                            uow: UnitOfWork, out: Outgoing, together: PlanTogether) -> None:
    chat_id = query.from_user.id
    clinician = _staff(person)
    message_id = query.message.message_id if query.message else None
    if callback_data.action == "accept":
        client, _plan = await together.accept(uow, clinician, callback_data.id)
        text = _("Added to the plan of client {code}. The client was told that their plan "
                 "changed.").format(code=client.code)
    elif callback_data.action == "decline":
        client = await together.decline(uow, clinician, callback_data.id)
        text = _("Declined. Client {code} was told their plan stays as it is.").format(
            code=client.code)
    elif callback_data.action == "edit":
        client = await together.start_edit(uow, clinician, callback_data.id)
        text = _("Send the item as it should read in the plan of client {code}, in one "
                 "message.").format(code=client.code)
    else:
        out.answer(_("This button is no longer active."))
        return
    if message_id is not None:
        out.edit(chat_id, message_id, text)
    else:
        out.send(chat_id, text)
    out.answer()


def _plan_saved(message: Message, code: str, out: Outgoing) -> None:
    out.delete(message.chat.id, message.message_id)  # the plan is health detail
    out.send(message.chat.id, _("Plan saved for client {code}. The client was told that "
                                "their plan changed.").format(code=code))


async def plan_reply(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                     review: ReviewService, store: Store, clock: Clock,
                     settings: Settings, together: PlanTogether) -> None:
    """The new plan, typed after /plan CODE (within the edit window), or a suggestion as
    the clinician words it (after its Edit button)."""
    edited = await together.edit_reply(uow, _staff(person), message.text or "")
    if edited is not None:
        _plan_saved(message, edited[0].code, out)
        return
    saved = await review.plan_reply(uow, _staff(person), message.text or "")
    if saved is None:
        raise SkipHandler()
    client, plan = saved
    _plan_saved(message, client.code, out)
    gone = _detail(store, clock, settings)
    out.send(message.chat.id, plan_view(client, plan, current_language.get(), gone.minutes,
                                        editable=False), on_sent=gone.hook(message.chat.id))


# --- buttons ----------------------------------------------------------------------------


async def review_button(query: CallbackQuery, callback_data: ReviewCb, person: Person,
                        uow: UnitOfWork, out: Outgoing, review: ReviewService, store: Store,
                        clock: Clock, settings: Settings) -> None:
    chat_id = query.from_user.id
    clinician = _staff(person)
    gone = _detail(store, clock, settings)
    code = callback_data.code
    if callback_data.action == "summary":
        await _send_summary(chat_id, code, clinician, uow, out, review, gone)
    elif callback_data.action in ("history", "page"):
        page = await review.history(uow, clinician, code, callback_data.page)
        if callback_data.action == "page" and query.message is not None:
            out.delete(chat_id, query.message.message_id)  # one page on screen at a time
        out.send(chat_id, history_text(page, gone.minutes,
                                       zone=review.locale_of(clinician).timezone),
                 history_buttons(page),
                 on_sent=gone.hook(chat_id))
    elif callback_data.action == "report":
        await _send_report(chat_id, code, DEFAULT_REPORT_DAYS, clinician, uow, out, review,
                           gone)
    elif callback_data.action == "plan":
        client, plan = await review.plan(uow, clinician, code, edit=True)
        out.send(chat_id, plan_view(client, plan, current_language.get(), gone.minutes,
                                    editable=review.editable(client)),
                 on_sent=gone.hook(chat_id))
    out.answer()


# --- discharge and reassignment ---------------------------------------------------------


async def discharge_command(message: Message, command: CommandObject, person: Person,
                            uow: UnitOfWork, out: Outgoing, discharge: DischargeService,
                            settings: Settings) -> None:
    code = _one_code(command)
    if code is None:
        out.send(message.chat.id, _(USAGE["discharge"]))
        return
    preview = await discharge.preview(uow, _staff(person), code)
    text, markup = discharge_question(preview.client.code, preview.erase_after.date(),
                                      settings.retention_days, preview.open_alerts)
    out.send(message.chat.id, text, markup)


async def discharge_button(query: CallbackQuery, callback_data: DischargeCb, person: Person,
                           uow: UnitOfWork, out: Outgoing, discharge: DischargeService) -> None:
    chat_id = query.from_user.id
    message_id = query.message.message_id if query.message is not None else None
    if callback_data.action == "confirm":
        done = await discharge.discharge(uow, _staff(person), callback_data.code)
        text = _("Client {code} is discharged. Daily check-ins have stopped and the client "
                 "was told. Their data key is destroyed on {day}.").format(
            code=done.client.code, day=f"{done.erase_after:%Y-%m-%d}")
        out.answer(_("Discharged."))
    else:
        text = _("Discharge cancelled; nothing changed.")
        out.answer()
    if message_id is not None:
        out.edit(chat_id, message_id, text)
    else:
        out.send(chat_id, text)


def _telegram_id(text: str) -> bool:
    """ASCII digits that fit the 64-bit column ("²" passes str.isdigit(), not int())."""
    return text.isascii() and text.isdigit() and len(text) <= 19 and 0 < int(text) < 2**63


async def reassign_command(message: Message, command: CommandObject, person: Person,
                           uow: UnitOfWork, out: Outgoing, caseload: CaseloadService) -> None:
    words = (command.args or "").split()
    if len(words) != 2 or not _telegram_id(words[1]):
        out.send(message.chat.id, _(USAGE["reassign"]))
        return
    moved = await caseload.reassign(uow, words[0], int(words[1]), by=_staff(person))
    out.send(message.chat.id, _("Client {code} is now on the caseload of {name}.").format(
        code=moved.client.code, name=moved.after.name))


def build_router() -> Router:
    """A fresh router per application: aiogram attaches a router to one dispatcher."""
    router = Router(name=__name__)
    router.message.filter(Role("clinician", "supervisor"))
    router.callback_query.filter(Role("clinician", "supervisor"))
    router.message.register(show_caseload, Command("caseload"))
    router.message.register(show_client, Command("client"))
    router.message.register(show_report, Command("report"))
    router.message.register(plan_command, Command("plan"))
    router.message.register(discharge_command, Command("discharge"))
    router.message.register(reassign_command, Command("reassign"), Role("supervisor"))
    router.callback_query.register(review_button, ReviewCb.filter())
    router.callback_query.register(discharge_button, DischargeCb.filter())
    router.callback_query.register(suggestion_button, SuggestionCb.filter())
    router.message.register(plan_reply, F.text, ~F.text.startswith("/"))
    return router
