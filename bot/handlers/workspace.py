"""/workspace: a way into the workspace pages for active clinicians and supervisors.

The answer holds a one-time sign-in link (five minutes, once, for this staff member only)
and, when the workspace is served over https, a Mini App button. The link is a credential
while it lasts, so the message deletes itself when it expires."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message, WebAppInfo

from app.settings import Settings
from bot.ephemeral import Ephemeral
from bot.filters import Role
from bot.outgoing import Outgoing
from journal.clock import Clock
from journal.i18n import _, ngettext
from journal.people import Person
from journal.web_access import LINK_TTL, WebAccess
from storage.uow import Store, UnitOfWork


async def workspace(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                    settings: Settings, store: Store, clock: Clock,
                    web_access: WebAccess) -> None:
    if not settings.web_enabled or person.clinician is None:
        out.send(message.chat.id, _("The workspace pages are not switched on for this "
                                    "program. Ask your administrator."))
        return
    token = await web_access.new_link(uow, person.clinician)
    base = settings.web_base_url()
    markup = None
    if base.startswith("https://"):
        markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
            text=_("Open the workspace"), web_app=WebAppInfo(url=f"{base}/webapp"))]])
    minutes = int(LINK_TTL.total_seconds() // 60)
    text = ngettext("Your workspace sign-in link, for you only, valid once and for {n} minute:\n"
                    "{link}",
                    "Your workspace sign-in link, for you only, valid once and for {n} minutes:\n"
                    "{link}", minutes).format(n=minutes, link=f"{base}/sign-in/{token}")
    gone = Ephemeral(store, clock, LINK_TTL)
    out.send(message.chat.id, text, markup, on_sent=gone.hook(message.chat.id))


def build_router() -> Router:
    """A fresh router per application: aiogram attaches a router to one dispatcher."""
    router = Router(name=__name__)
    router.message.filter(Role("clinician", "supervisor"))
    router.message.register(workspace, Command("workspace"))
    return router
