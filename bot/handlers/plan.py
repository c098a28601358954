"""The client's own relapse prevention plan and help: /plan, /help (crisis contacts first)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.ephemeral import Ephemeral
from bot.filters import Role, client_of
from bot.menus import menu
from bot.outgoing import Outgoing
from bot.texts import crisis_message
from bot.views.chat import TEXT_LIMIT, cut_to, utf16_length
from journal.clock import Clock
from journal.entries import JournalService
from journal.i18n import _, current_language
from journal.people import Person
from journal.preferences import PreferencesService
from journal.review.plan import plan_lines
from storage.records import Plan
from storage.uow import Store, UnitOfWork


def render_plan(plan: Plan) -> str:
    if plan.is_empty:
        return _("Your relapse prevention plan is still empty. Your clinician fills it in with "
                 "you during your sessions: your warning signs, the coping steps that help you, "
                 "and the people you can call. Once it is written, you will find it here.")
    sections = [_("Your plan")]
    for title, items in plan_lines(plan, current_language.get()):
        if items:
            sections.append(title + "\n" + "\n".join(f"• {item}" for item in items))
    text = "\n\n".join(sections)
    if utf16_length(text) > TEXT_LIMIT:
        text = cut_to(text, TEXT_LIMIT - 1).rstrip() + "…"
    return text


async def show_plan(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                    preferences: PreferencesService, journaling: JournalService, store: Store,
                    clock: Clock) -> None:
    client = client_of(person)
    plan = await preferences.plan(uow, client)
    if plan.is_empty:
        out.send(message.chat.id, render_plan(plan))
        return
    # Warning signs are as private as the journal: the view goes away like a journal reading.
    out.send(message.chat.id, render_plan(plan) + "\n\n" + _(
        "This message is removed after a few minutes, so your plan does not stay on the "
        "screen. Send /plan to see it again."),
        on_sent=Ephemeral(store, clock, journaling.view_ttl).hook(message.chat.id,
                                                                  client_id=client.id))


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
    router.message.register(show_plan, Command("plan"))
    router.message.register(show_help, Command("help"))
    return router
