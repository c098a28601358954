"""The treatment team in the chat: a clinician's /team proposal, the client's answer and
/sharing (with who looked at their information), and the supervising officer's narrow door
(/supervisees, /supervisee CODE).

An officer gets, for any clinician command or button, the same line an unknown client code
gets: nothing says whether a client exists or is someone else's."""

from __future__ import annotations

from datetime import datetime

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.callbacks import LanguageCb, SharingCb
from bot.filters import Role, client_of
from bot.handlers.clinician import ask_language, language_button
from bot.handlers.workspace import workspace
from bot.menus import CLINICIAN, SUPERVISOR, menu
from bot.outgoing import Outgoing
from bot.texts import error_text
from journal.alerts.levels import WORDS
from journal.i18n import _, current_language, ngettext
from journal.people import Person, visible_client
from journal.progress import ProgressService
from journal.sharing import (
    ADHERENCE,
    ALERTS,
    REPORT,
    STATUS,
    SharingService,
    Supervisee,
    checkins_words,
    report_word,
    role_word,
    status_word,
    view_word,
)
from journal.times import shown_time
from storage.records import ENROLLED
from storage.uow import UnitOfWork

# --- the clinician proposes ---------------------------------------------------------------


async def team_command(message: Message, command: CommandObject, person: Person,
                       uow: UnitOfWork, out: Outgoing, sharing: SharingService) -> None:
    words = (command.args or "").split()
    if len(words) != 1:
        out.send(message.chat.id, _("Use: /team CODE, then choose the supervising officer."))
        return
    assert person.clinician is not None
    client = await visible_client(uow, person.clinician, words[0], statuses=ENROLLED)
    officers = await sharing.officers(uow)
    if not officers:
        out.send(message.chat.id, _("No supervising officer is registered yet. An "
                                    "administrator adds one with 'steadfast clinician add "
                                    "--role officer'."))
        return
    out.send(message.chat.id, _(
        "Who should client {code} be asked to share with? They receive the program's set: "
        "check-in counts, critical alerts (level and time only), the monthly report and "
        "status changes. Nothing is shared until the client agrees.").format(code=client.code),
        InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
            text=o.name, callback_data=SharingCb(action="propose", agreement=client.code,
                                                 officer=o.telegram_id).pack())]
            for o in officers]))


async def propose_button(query: CallbackQuery, callback_data: SharingCb, person: Person,
                         uow: UnitOfWork, out: Outgoing, sharing: SharingService) -> None:
    assert person.clinician is not None
    agreement, client, officer = await sharing.propose(
        uow, code=callback_data.agreement, officer_telegram_id=callback_data.officer,
        by=person.clinician)
    text = _("Proposed to client {code}: sharing with {officer}. You will be told when they "
             "answer.").format(code=client.code, officer=officer.name)
    out.answer(_("Proposed."))
    if query.message is not None:
        out.edit(query.from_user.id, query.message.message_id, text)


async def progress_command(message: Message, command: CommandObject, person: Person,
                           uow: UnitOfWork, out: Outgoing, progress: ProgressService) -> None:
    """/progress CODE: the waiting draft; /progress CODE note...: send it with the note."""
    assert person.clinician is not None
    words = (command.args or "").split(maxsplit=1)
    if not words:
        out.send(message.chat.id, error_text("progress.note"))
        return
    language = current_language.get()
    if len(words) == 1:
        client, _draft, content = await progress.draft_for(uow, person.clinician, words[0])
        out.send(message.chat.id, "\n\n".join([
            progress.summary_text(content, language),
            _("To send it to the supervising officer, write /progress {code} followed by a "
              "short progress note. The report never includes answers, journal, plan, alert "
              "reasons or notes.").format(code=client.code)]))
        return
    client, officer = await progress.send(uow, person.clinician, words[0], words[1])
    # The note is stored encrypted and reaches the officer: it leaves this chat.
    out.delete(message.chat.id, message.message_id)
    out.send(message.chat.id, _("Sent to {officer}. You will see here when they acknowledge "
                                "receipt.").format(officer=officer.name))


async def received_button(query: CallbackQuery, callback_data: SharingCb, person: Person,
                          uow: UnitOfWork, out: Outgoing, progress: ProgressService) -> None:
    assert person.clinician is not None
    if callback_data.action == "report":
        filename, draw = await progress.officer_pdf(uow, person.clinician,
                                                    callback_data.agreement)
        out.answer()
        out.send_document(query.from_user.id, draw, filename)
        return
    code = await progress.acknowledge(uow, person.clinician, callback_data.agreement)
    out.answer(_("Receipt acknowledged."))
    if query.message is not None:
        out.send(query.from_user.id, _("You acknowledged receipt of the progress report for "
                                       "client {code}.").format(code=code))


# --- the client answers and looks ---------------------------------------------------------


def _since(when: datetime | None, zone: str) -> str:
    return shown_time(when, zone) if when is not None else "-"


async def sharing_command(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                          sharing: SharingService) -> None:
    client = client_of(person)
    found = await sharing.of_client(uow, client)
    language = current_language.get()
    lines = [_("Who receives information about your treatment")]
    rows = []
    if not found:
        lines.append(_("Nobody outside your treatment team. Nothing is shared."))
    for item in found:
        a = item.agreement
        if a.status == "agreed":
            lines.append(_("{officer} ({role}), since {since}:").format(
                officer=item.officer.name, role=role_word(language, item.officer.role),
                since=_since(a.answered_at, client.timezone)))
        else:
            lines.append(_("{officer} ({role}): proposed, waiting for your answer. Nothing "
                           "is shared yet.").format(officer=item.officer.name,
                                                    role=role_word(language,
                                                                   item.officer.role)))
        lines.append(sharing.what_text(a, language))
        rows.append([InlineKeyboardButton(
            text=_("Stop sharing with {officer}").format(officer=item.officer.name),
            callback_data=SharingCb(action="withdraw", agreement=a.id).pack())])
    rows.append([InlineKeyboardButton(text=_("Who looked at my information"),
                                      callback_data=SharingCb(action="ledger").pack())])
    out.send(message.chat.id, "\n\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows))


async def client_button(query: CallbackQuery, callback_data: SharingCb, person: Person,
                        uow: UnitOfWork, out: Outgoing, sharing: SharingService) -> None:
    client = client_of(person)
    chat = query.from_user.id
    message_id = query.message.message_id if query.message is not None else None
    if callback_data.action in ("agree", "decline"):
        agree = callback_data.action == "agree"
        await sharing.answer(uow, client, callback_data.agreement, agree=agree)
        text = (_("Thank you. You agreed; you can stop sharing at any time with /sharing.")
                if agree else _("Thank you. Nothing will be shared. Your treatment goes on "
                                "the same."))
        out.answer(_("Saved."))
        if message_id is not None:
            out.edit(chat, message_id, text)
        else:
            out.send(chat, text)
    elif callback_data.action == "withdraw":
        ended = await sharing.withdraw(uow, client, callback_data.agreement)
        officer = await uow.clinicians.get(ended.officer_id)
        out.answer(_("Sharing stopped."))
        out.send(chat, _("Done. Nothing more is sent to {officer}. Your clinician was told; "
                         "your treatment goes on the same.").format(
            officer=officer.name if officer else "-"))
    elif callback_data.action == "ledger":
        lines = await sharing.ledger(uow, client)
        language = current_language.get()
        out.answer()
        as_pdf = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
            text=_("As a PDF"), callback_data=SharingCb(action="pdf").pack())]])
        if not lines:
            out.send(chat, _("Nobody on your team looked at your information in the last 30 "
                             "days."), as_pdf)
            return
        seen = [_("Who looked at your information in the last 30 days:")]
        seen += [_("{when}: {name} ({role}) saw {what}").format(
            when=shown_time(line.at, client.timezone), name=line.name,
            role=role_word(language, line.role), what=view_word(language, line.action))
            for line in lines[:40]]
        if len(lines) > 40:
            seen.append(ngettext("...and {n} more view.", "...and {n} more views.",
                                 len(lines) - 40).format(n=len(lines) - 40))
        out.send(chat, "\n".join(seen), as_pdf)
    elif callback_data.action == "pdf":
        pdf = await sharing.ledger_pdf(uow, client)
        out.answer()
        out.send_document(chat, pdf, f"ledger-{client.code}.pdf",
                          _("Who looked at your information"))
    else:
        out.answer(_("This button is no longer active."))


# --- the officer's door -------------------------------------------------------------------


def supervisee_text(s: Supervisee, zone: str) -> str:
    language = current_language.get()
    parts = [s.code]
    if STATUS in s.categories:
        parts.append(_("status: {status}").format(status=status_word(language, s.status)))
    if ADHERENCE in s.categories:
        parts.append(_("last check-in: {day}").format(
            day=s.last_checkin.isoformat() if s.last_checkin else "-"))
        if s.expected is not None and s.done is not None:
            parts.append(checkins_words(language, s.done, s.expected))
    if ALERTS in s.categories:
        if s.open_alerts:
            parts.append(_("open alerts: {alerts}").format(alerts=", ".join(
                f"{n} {_(WORDS[level])}" for level, n in s.open_alerts.items())))
        else:
            parts.append(_("no open alerts"))
    if REPORT in s.categories:
        parts.append(_("monthly report: {state}").format(
            state=report_word(language, s.report, s.report_month)))
    parts.append(_("sharing since {since}").format(since=_since(s.since, zone)))
    return "; ".join(parts)


async def supervisees_command(message: Message, person: Person, uow: UnitOfWork,
                              out: Outgoing, sharing: SharingService) -> None:
    assert person.clinician is not None
    found = await sharing.supervisees(uow, person.clinician)
    zone = sharing.locale_of(person.clinician).timezone
    if not found:
        out.send(message.chat.id, _("No client shares information with you at the moment."))
        return
    out.send(message.chat.id, "\n".join([_("Clients who share information with you, most in "
                                           "need first:")]
                                        + [supervisee_text(s, zone) for s in found]))


async def supervisee_command(message: Message, command: CommandObject, person: Person,
                             uow: UnitOfWork, out: Outgoing, sharing: SharingService) -> None:
    assert person.clinician is not None
    words = (command.args or "").split()
    if len(words) != 1:
        out.send(message.chat.id, _("Use: /supervisee CODE"))
        return
    found = await sharing.supervisee(uow, person.clinician, words[0])
    out.send(message.chat.id, supervisee_text(found, sharing.locale_of(person.clinician)
                                              .timezone))


async def officer_start(message: Message, out: Outgoing) -> None:
    out.send(message.chat.id, _("Hello. Use /supervisees to see the clients who agreed to "
                                "share information with you."))
    out.commands(message.chat.id, menu("officer", current_language.get()))


async def officer_help(message: Message, out: Outgoing) -> None:
    out.send(message.chat.id, _(
        "/supervisees: the clients who agreed to share information with you, most in need "
        "first\n/supervisee CODE: one of them\n\nYou receive only what each client agreed to "
        "share: check-in counts, alert levels and times, the monthly report and status "
        "changes. Never their answers, journal, plan, alert reasons or notes."))


async def officer_refused(message: Message, out: Outgoing) -> None:
    """A clinician's command: the answer an unknown client code gets."""
    out.send(message.chat.id, error_text("client.not_found"))


async def officer_refused_button(query: CallbackQuery, out: Outgoing) -> None:
    out.answer(error_text("client.not_found"), alert=True)


# Every command a clinician or supervisor has, which an officer is refused like a code that
# does not exist (the officer's own are registered first).
STAFF_COMMANDS = tuple(dict.fromkeys(name for name, _text in (*CLINICIAN, *SUPERVISOR)
                                     if name not in ("language", "help", "workspace")))


def build_router() -> Router:
    """A fresh router per application: aiogram attaches a router to one dispatcher."""
    router = Router(name=__name__)
    staff = Router(name=f"{__name__}.staff")
    staff.message.filter(Role("clinician", "supervisor"))
    staff.callback_query.filter(Role("clinician", "supervisor"))
    staff.message.register(team_command, Command("team"))
    staff.message.register(progress_command, Command("progress"))
    staff.callback_query.register(propose_button, SharingCb.filter(F.action == "propose"))

    client = Router(name=f"{__name__}.client")
    client.message.filter(Role("client"))
    client.callback_query.filter(Role("client"))
    client.message.register(sharing_command, Command("sharing"))
    client.callback_query.register(client_button, SharingCb.filter(F.action != "propose"))

    officer = Router(name=f"{__name__}.officer")
    officer.message.filter(Role("officer"))
    officer.callback_query.filter(Role("officer"))
    officer.message.register(officer_start, CommandStart())
    officer.message.register(officer_help, Command("help"))
    officer.message.register(supervisees_command, Command("supervisees"))
    officer.message.register(supervisee_command, Command("supervisee"))
    officer.message.register(ask_language, Command("language"))
    officer.message.register(workspace, Command("workspace"))  # their own page only
    officer.callback_query.register(language_button, LanguageCb.filter())
    officer.callback_query.register(received_button,
                                    SharingCb.filter(F.action.in_({"received", "report"})))
    officer.message.register(officer_refused, Command(*STAFF_COMMANDS, "team", "sharing"))
    officer.message.register(officer_refused, F.text.startswith("/"))  # any other command
    officer.callback_query.register(officer_refused_button)  # any button not their own
    router.include_routers(staff, client, officer)
    return router
