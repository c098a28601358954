"""Alerts for clinicians and supervisors: Details, Acknowledge with a note, /alerts."""

from __future__ import annotations

from datetime import timedelta

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from app.settings import Settings
from bot.callbacks import ACKNOWLEDGE, DETAILS, SKIP_NOTE, AlertCb, render_buttons
from bot.ephemeral import Ephemeral
from bot.filters import Role
from bot.outgoing import Outgoing
from journal.alerts.service import AlertService
from journal.clock import Clock
from journal.dead_letters import DeliveryReport
from journal.i18n import _, ngettext
from journal.people import Person
from storage.uow import Store, UnitOfWork

NOTE_STATE = "alert_note"


async def alert_button(query: CallbackQuery, callback_data: AlertCb, person: Person,
                       uow: UnitOfWork, out: Outgoing, alerts: AlertService, store: Store,
                       clock: Clock, settings: Settings) -> None:
    assert person.clinician is not None
    chat_id = query.from_user.id
    if callback_data.action == DETAILS:
        text = await alerts.details(uow, person.clinician, callback_data.alert_id)
        gone = Ephemeral(store, clock, timedelta(minutes=settings.detail_ttl_minutes))
        out.send(chat_id, text, on_sent=gone.hook(chat_id))
        out.answer()
    elif callback_data.action == ACKNOWLEDGE:
        alert, changed = await alerts.acknowledge(uow, person.clinician, callback_data.alert_id)
        # Already acknowledged (a supervisor's escalated copy): their note is added beside
        # the notes already there, never in their place.
        await uow.conversations.set(chat_id, NOTE_STATE, {"alert": alert.id}, clock.now())
        if changed:
            out.answer(_("Acknowledged."))
            # The tap's own answer said "Acknowledged."; the message does not say it again.
            prompt = _("If you like, reply with a short note of the action you took; it is "
                       "stored encrypted.")
        else:
            out.answer(_("This alert was already acknowledged."))
            prompt = _("This alert was already acknowledged. If you like, reply with a short "
                       "note of the action you took; it is added to the alert's notes, "
                       "stored encrypted.")
        out.send(chat_id, prompt, InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
            text=_("No note"),
            callback_data=AlertCb(action=SKIP_NOTE, alert_id=alert.id).pack())]]))
    else:
        await uow.conversations.clear(chat_id)
        out.answer(_("No note added."))
        if query.message is not None:
            out.delete(chat_id, query.message.message_id)


async def note_text(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                    alerts: AlertService) -> None:
    conversation = await uow.conversations.get(message.chat.id)
    if conversation is None or conversation.state != NOTE_STATE:
        raise SkipHandler()
    assert person.clinician is not None
    await alerts.add_note(uow, person.clinician, conversation.data["alert"], message.text or "")
    await uow.conversations.clear(message.chat.id)
    out.delete(message.chat.id, message.message_id)  # a note may hold health detail
    out.send(message.chat.id, _("Note saved with the alert."))


async def open_alerts(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                      alerts: AlertService) -> None:
    assert person.clinician is not None
    rows = await alerts.open_alerts(uow, person.clinician)
    if not rows:
        out.send(message.chat.id, _("No open alerts."))
        return
    locale = alerts.locale_of(person.clinician)
    for alert, client in rows[:20]:
        # The same buttons as the alert's own message, drawn the same way.
        out.send(message.chat.id, alerts.alert_text(alert, client.code, locale=locale),
                 render_buttons(alerts.buttons(alert.id, language=locale.language)))
    if len(rows) > 20:
        out.send(message.chat.id, ngettext(
            "{n} more open alert is not shown.", "{n} more open alerts are not shown.",
            len(rows) - 20).format(n=len(rows) - 20))


async def deliveries(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                     delivery_report: DeliveryReport) -> None:
    if not person.clinician or not person.clinician.is_supervisor:
        out.send(message.chat.id, _("That command is not available to you."))
        return
    counts, dead = await delivery_report.summary(uow)
    lines = [_("Deliveries: {queued} queued, {retrying} retrying, {dead} undeliverable.").format(
        queued=counts.queued, retrying=counts.retrying, dead=counts.dead)]
    lines += [f"• {m.kind} ({who}): {m.last_error or '?'}" for m, who in dead]
    out.send(message.chat.id, "\n".join(lines))


async def thresholds(message: Message, command: CommandObject, person: Person,
                     uow: UnitOfWork, out: Outgoing, alerts: AlertService) -> None:
    """/threshold CODE lists the tunable rules; /threshold CODE RULE N sets one for this
    client only."""
    assert person.clinician is not None
    parts = (command.args or "").split()
    if len(parts) == 3 and parts[2].isascii() and parts[2].isdigit() and len(parts[2]) <= 6:
        client = await alerts.set_threshold(uow, person.clinician, parts[0], parts[1],
                                            int(parts[2]))
        out.send(message.chat.id, _("Threshold of {rule} for client {code} is now {n}.").format(
            rule=parts[1], code=client.code, n=parts[2]))
        return
    if len(parts) != 1:
        out.send(message.chat.id, _("Send /threshold CODE to see the rules, or "
                                    "/threshold CODE RULE NUMBER to change one for this client."))
        return
    client, rows = await alerts.thresholds(uow, person.clinician, parts[0])
    lines = [_("Thresholds for client {code} (program value, and this client's):").format(
        code=client.code)]
    lines += [f"• {rule}: {default}" + (f" → {mine}" if mine is not None else "")
              for rule, default, mine in rows]
    out.send(message.chat.id, "\n".join(lines))


def build_router() -> Router:
    """A fresh router per application: aiogram attaches a router to one dispatcher."""
    router = Router(name=__name__)
    router.message.filter(Role("clinician", "supervisor"))
    router.callback_query.filter(Role("clinician", "supervisor"))
    router.callback_query.register(alert_button, AlertCb.filter())
    router.message.register(open_alerts, Command("alerts"))
    router.message.register(deliveries, Command("deliveries"))
    router.message.register(thresholds, Command("threshold"))
    router.message.register(note_text, F.text & ~F.text.startswith("/"))
    return router
