"""The client's own plan and help: /plan (with "Suggest a change" and "Help now"), /now,
/help (crisis contacts first)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, Filter
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.callbacks import HelpNowCb, PlanCb
from bot.ephemeral import Ephemeral
from bot.filters import Role, chat_of, client_of
from bot.menus import menu
from bot.outgoing import Outgoing
from bot.texts import crisis_message
from bot.views.chat import TEXT_LIMIT, cut_to, keyboard, utf16_length
from journal.clock import Clock
from journal.entries import JournalService
from journal.i18n import _, current_language, gettext_for
from journal.people import Person
from journal.plan_together import (
    FOLLOW_UP_QUESTION,
    OUTCOMES,
    SUGGESTABLE,
    PlanTogether,
    SuggestionError,
)
from journal.preferences import PreferencesService
from journal.review.plan import item_line, parts, plan_lines
from storage.records import Plan
from storage.uow import Store, UnitOfWork


def render_plan(plan: Plan) -> str:
    if plan.is_empty:
        return _("Your plan is still empty. Your clinician writes it with you during your "
                 "sessions: your warning signs, the situations to avoid, what helps you, and "
                 "the people you can call. You can suggest something for it below.")
    sections = [_("Your plan")]
    for title, items in plan_lines(plan, current_language.get()):
        if items:
            sections.append(title + "\n" + "\n".join(f"• {item}" for item in items))
    return _fit("\n\n".join(sections))


def _fit(text: str) -> str:
    if utf16_length(text) > TEXT_LIMIT:
        text = cut_to(text, TEXT_LIMIT - 1).rstrip() + "…"
    return text


def plan_buttons() -> InlineKeyboardMarkup:
    return keyboard([[(_("Suggest a change"), PlanCb(action="suggest").pack()),
                      (_("I am at risk now"), PlanCb(action="now").pack())]])


async def show_plan(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                    preferences: PreferencesService, journaling: JournalService, store: Store,
                    clock: Clock) -> None:
    client = client_of(person)
    plan = await preferences.plan(uow, client)
    if plan.is_empty:
        out.send(message.chat.id, render_plan(plan), plan_buttons())
        return
    # Warning signs are as private as the journal: the view goes away like a journal reading.
    out.send(message.chat.id, _fit(render_plan(plan) + "\n\n" + _(
        "This message is removed after a few minutes, so your plan does not stay on the "
        "screen. Send /plan to see it again.")), plan_buttons(),
        on_sent=Ephemeral(store, clock, journaling.view_ttl).hook(message.chat.id,
                                                                  client_id=client.id))


# --- suggesting -----------------------------------------------------------------------


def _part_buttons() -> InlineKeyboardMarkup:
    config = parts()
    rows = [[(_(config.titles[name]), PlanCb(action="part", part=name).pack())]
            for name in SUGGESTABLE if name in config.parts]
    rows.append([(_("Cancel"), PlanCb(action="cancel").pack())])
    return keyboard(rows)


class Suggesting(Filter):
    """The client chose a part to suggest to, so their next message is the suggestion."""

    async def __call__(self, message: Message, person: Person, uow: UnitOfWork,
                       together: PlanTogether) -> bool:
        return (person.client is not None and message.text is not None
                and not message.text.startswith("/")
                and await together.waiting_part(uow, person.client) is not None)


async def suggestion_text(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                          together: PlanTogether) -> None:
    client = client_of(person)
    try:
        await together.suggest(uow, client, message.text or "")
    except SuggestionError:
        out.send(message.chat.id, _("That could not be kept as a suggestion: please send one "
                                    "short line, at most 200 characters. Nothing else was "
                                    "changed."))
        return
    out.delete(message.chat.id, message.message_id)  # the words are kept sealed, not here
    out.send(message.chat.id, _("Thank you. Your suggestion was kept and your clinician was "
                                "told. You will talk about it together."))


# --- help now -------------------------------------------------------------------------


def render_help_now(plan: Plan, language: str) -> str:
    """The client's own at-risk steps, first person to call, coping strategies and support
    people's contacts, in one message."""
    lines = [_("You did the right thing by stopping. Here is your own plan for this moment.")]
    config = parts()
    blocks = (("at_risk", True), ("first_call", False), ("coping", True), ("support", False))
    for name, numbered in blocks:
        items = plan.items(name)
        if not items:
            continue
        lines += ["", gettext_for(language, config.titles[name])]
        lines += [f"{n}. {item_line(plan, name, item, language)}" if numbered
                  else f"• {item_line(plan, name, item, language)}"
                  for n, item in enumerate(items, 1)]
    if len(lines) == 1:
        lines += ["", _("Your plan has no steps for this moment yet. Leave the place you are "
                        "in, go somewhere safe with other adults around, and call someone you "
                        "trust.")]
    lines += ["", _("If you are in danger or thinking of harming yourself, send /help for "
                    "the crisis contacts."), "",
              _("Do you want your clinician to be told now?")]
    return _fit("\n".join(lines))


async def _help_now(chat_id: int, person: Person, uow: UnitOfWork, out: Outgoing,
                    together: PlanTogether) -> None:
    client = client_of(person)
    moment = await together.help_now(uow, client)
    out.send(chat_id, render_help_now(moment.plan, current_language.get()), keyboard([[
        (_("Yes, tell my clinician"),
         HelpNowCb(action="tell", moment=moment.moment_id, answer="yes").pack()),
        (_("No, not now"),
         HelpNowCb(action="tell", moment=moment.moment_id, answer="no").pack())]]))


async def now_command(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                      together: PlanTogether) -> None:
    await _help_now(message.chat.id, person, uow, out, together)


def _follow_up(moment_id: str, language: str) -> dict[str, object]:
    """The question asked a few minutes later, as the outbox sends it (its buttons too)."""
    labels = {"better": gettext_for(language, "Better"),
              "same": gettext_for(language, "About the same"),
              "worse": gettext_for(language, "Worse")}
    return {"text": gettext_for(language, FOLLOW_UP_QUESTION), "reply_markup": {
        "inline_keyboard": [[{"text": labels[key], "callback_data": HelpNowCb(
            action="outcome", moment=moment_id, answer=key).pack()} for key in OUTCOMES]]}}


async def help_now_button(query: CallbackQuery, callback_data: HelpNowCb, person: Person,
                          uow: UnitOfWork, out: Outgoing, together: PlanTogether,
                          preferences: PreferencesService) -> None:
    client = client_of(person)
    chat_id = query.message.chat.id if query.message else chat_of(client)
    message_id = query.message.message_id if query.message else None
    if callback_data.action == "tell":
        yes = callback_data.answer == "yes"
        done = await together.tell(uow, client, callback_data.moment, yes,
                                   _follow_up(callback_data.moment, client.language))
        if not done:
            out.answer(_("This button is no longer active."))
            return
        reply = (_("Your clinician is being told now. Keep to your steps; I will ask you in a "
                   "few minutes how you are.") if yes else
                 _("Nobody was told. Keep to your steps; I will ask you in a few minutes how "
                   "you are."))
        if message_id is not None and query.message is not None:
            # The steps stay on the screen; only the question's buttons go.
            out.edit(chat_id, message_id, getattr(query.message, "text", None) or reply)
        out.send(chat_id, reply)
    elif callback_data.action == "outcome" and callback_data.answer in OUTCOMES:
        if not await together.outcome(uow, client, callback_data.moment, callback_data.answer):
            out.answer(_("This button is no longer active."))
            return
        if message_id is not None:
            out.edit(chat_id, message_id, _("Thank you for telling me."))
        if callback_data.answer == "worse":
            support = await preferences.support(uow, client)
            clinician = ", ".join(p for p in (support.clinician_name,
                                              support.clinician_contact) if p)
            out.send(chat_id, crisis_message(
                phone=support.crisis_phone, text_line=support.crisis_text,
                office=support.office_phone, clinician_contact=clinician,
                clinician_told=False))
    else:
        out.answer(_("This button is no longer active."))


async def plan_button(query: CallbackQuery, callback_data: PlanCb, person: Person,
                      uow: UnitOfWork, out: Outgoing, together: PlanTogether) -> None:
    client = client_of(person)
    chat_id = query.message.chat.id if query.message else chat_of(client)
    action = callback_data.action
    if action == "suggest":
        out.send(chat_id, _("Which part of your plan is your suggestion for?"),
                 _part_buttons())
    elif action == "part":
        try:
            await together.start_suggestion(uow, client, callback_data.part)
        except SuggestionError:
            out.answer(_("This button is no longer active."))
            return
        title = _(parts().titles[callback_data.part])
        text = _("{part}: write your suggestion in one short message. Only your clinician "
                 "reads it.").format(part=title)
        if query.message is not None:
            out.edit(chat_id, query.message.message_id, text)
        else:
            out.send(chat_id, text)
    elif action == "cancel":
        if query.message is not None:
            out.edit(chat_id, query.message.message_id, _("Closed. Nothing was kept."))
    elif action == "now":
        await _help_now(chat_id, person, uow, out, together)
    else:
        out.answer(_("This button is no longer active."))


async def show_help(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                    preferences: PreferencesService) -> None:
    support = await preferences.support(uow, client_of(person))
    clinician = ", ".join(part for part in (support.clinician_name, support.clinician_contact)
                          if part)
    crisis = crisis_message(phone=support.crisis_phone, text_line=support.crisis_text,
                            office=support.office_phone, clinician_contact=clinician,
                            clinician_told=False)
    commands = "\n".join(f"/{name}: {description}"
                         for name, description in menu("client", current_language.get())
                         if name != "help")
    out.send(message.chat.id, crisis + "\n\n" + _("What you can do here:") + "\n" + commands)


def build_router() -> Router:
    """A fresh router per application: aiogram attaches a router to one dispatcher."""
    router = Router(name=__name__)
    router.message.filter(Role("client"))
    router.callback_query.filter(Role("client"))
    router.message.register(show_plan, Command("plan"))
    router.message.register(now_command, Command("now"))
    router.message.register(show_help, Command("help"))
    router.message.register(suggestion_text, F.text, Suggesting())
    router.callback_query.register(plan_button, PlanCb.filter())
    router.callback_query.register(help_now_button, HelpNowCb.filter())
    return router
