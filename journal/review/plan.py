"""The relapse prevention plan: its sections, its text format, and a clinician editing it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from journal.errors import InvalidInput, NotAllowed, NotFound
from journal.i18n import LANGUAGES, N_, gettext_for
from journal.people import actor_of, visible_client
from storage.records import ENROLLED, IN_PROGRAM, Client, Clinician, Plan

if TYPE_CHECKING:  # only annotations: the report worker imports this, not SQLAlchemy
    from storage.uow import UnitOfWork

MAX_PLAN_ITEMS: Final = 20  # lines a section
MAX_PLAN_ITEM_LENGTH: Final = 200
PLAN_EDIT_MINUTES: Final = 15  # a "/plan CODE" waits this long for the new plan
PLAN_EDIT_STATE: Final = "plan_edit"

PLAN_SECTIONS: Final = (
    ("warning_signs", N_("Warning signs")),
    ("coping_steps", N_("Coping steps")),
    ("support_people", N_("Support people")),
)
# What a plan must look like, in words: its titles and limits filled in from the rules above.
FORMAT_RULES: Final = N_(
    "Start each section with its title on a line of its own ({titles}) and put one item a "
    "line, at most {items} a section and {length} characters an item.")
# Its first line is what a locked phone shows: it names no treatment (journal/unasked.py).
CLIENT_PLAN_NOTICE: Final = N_(
    "You have an update waiting.\nSomething in your plan changed: send /plan to read it.")


def plan_sections(plan: Plan) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each section's title (a msgid, for the reader's language) and its items, in order."""
    return tuple((title, tuple(getattr(plan, name))) for name, title in PLAN_SECTIONS)


def section_titles(language: str) -> str:
    """The section titles as a reader writes them: "Warning signs, Coping steps, ..."."""
    return ", ".join(gettext_for(language, title) for _name, title in PLAN_SECTIONS)


def format_rules(language: str) -> str:
    """FORMAT_RULES in `language`, with this module's titles and limits."""
    return gettext_for(language, FORMAT_RULES).format(
        titles=section_titles(language), items=MAX_PLAN_ITEMS, length=MAX_PLAN_ITEM_LENGTH)


class PlanFormatError(InvalidInput):
    """A plan message that does not follow the sections format (its text is never kept)."""

    key = "plan.format"


def editable(client: Client) -> bool:
    return client.status in IN_PROGRAM


# --- a clinician reading and editing ----------------------------------------------------


async def view_plan(uow: UnitOfWork, clinician: Clinician, code: str, *, now: datetime,
                    edit: bool = False) -> tuple[Client, Plan]:
    """The client's plan; with `edit`, the clinician's next message (within
    PLAN_EDIT_MINUTES) is read as the new plan."""
    client = await visible_client(uow, clinician, code)
    plan = await uow.plans.get(client.id)
    if edit and editable(client):
        # Only the client id is kept in the conversation, never any plan text.
        await uow.conversations.set(clinician.telegram_id, PLAN_EDIT_STATE,
                                    {"client": client.id}, now)
    await uow.audit(at=now, actor=actor_of(clinician), action="plan.view",
                    client_id=client.id, detail=f"client {client.code}")
    return client, plan


async def plan_reply(uow: UnitOfWork, clinician: Clinician, text: str, *, now: datetime
                     ) -> tuple[Client, Plan] | None:
    """A typed message as the new plan, if the clinician asked to edit one lately;
    None when no edit is waiting (the message is then not about a plan)."""
    conversation = await uow.conversations.get(clinician.telegram_id)
    if conversation is None or conversation.state != PLAN_EDIT_STATE:
        return None
    if now - conversation.updated_at > timedelta(minutes=PLAN_EDIT_MINUTES):
        await uow.conversations.clear(clinician.telegram_id)
        return None
    client = await uow.clients.get(str(conversation.data.get("client", "")))
    if client is None:
        raise NotFound("the client of this plan edit is gone", key="client.not_found")
    saved = await edit_plan(uow, clinician, client.code, text, now=now)
    await uow.conversations.clear(clinician.telegram_id)
    return saved


async def edit_plan(uow: UnitOfWork, clinician: Clinician, code: str, text: str, *,
                    now: datetime) -> tuple[Client, Plan]:
    """Replace the sections the clinician sent; the check-in's coping item offers the
    new steps from the next screen on, and the client is told in their language."""
    client = await visible_client(uow, clinician, code)
    if not editable(client):
        raise NotAllowed("a discharged client's plan is kept as it was", key="plan.closed")
    plan = parse_plan(text, await uow.plans.get(client.id))
    saved = await uow.plans.put(plan, by=clinician.id, now=now)
    await uow.audit(at=now, actor=actor_of(clinician), action="plan.edit",
                    client_id=client.id,
                    # Counts after their labels, so one and many read alike.
                    detail=f"client {client.code}: warning signs: {len(plan.warning_signs)}, "
                           f"coping steps: {len(plan.coping_steps)}, "
                           f"support people: {len(plan.support_people)}")
    if client.telegram_id is not None and client.status in ENROLLED:
        await uow.outbox.add(
            chat_id=client.telegram_id, kind="notice", method="sendMessage",
            params={"text": gettext_for(client.language, CLIENT_PLAN_NOTICE)}, now=now,
            client_id=client.id)
    return client, saved


# --- the plan's text format -------------------------------------------------------------

_BULLET = re.compile(r"^\s*(?:[-*•·–—]\s*|\d{1,2}[.)]\s+)")


def _header_names() -> dict[str, str]:
    """Section titles in every language, folded, to the plan field they start."""
    names: dict[str, str] = {}
    for field_name, title in PLAN_SECTIONS:
        for language in LANGUAGES:
            names[_fold(gettext_for(language, title))] = field_name
        names[_fold(title)] = field_name
    return names


def _fold(text: str) -> str:
    return " ".join(text.replace(":", " ").split()).casefold()


def parse_plan(text: str, current: Plan) -> Plan:
    """Read a plan sent as sections, one item a line:

        Warning signs:
        - staying up late online
        Coping steps:
        - call my sponsor
        Support people:
        - Ana (sister)

    A section left out keeps what it had; a section title with no lines empties it.
    Bullets and numbering are optional. Raises PlanFormatError, naming no content."""
    headers = _header_names()
    sections: dict[str, list[str]] = {}
    section: list[str] | None = None
    for raw in text.replace("\r", "\n").split("\n"):
        line = _BULLET.sub("", raw).strip()
        if not line:
            continue
        head, colon, rest = line.partition(":")
        title = headers.get(_fold(head)) if colon else headers.get(_fold(line))
        if title is not None:
            section = sections.setdefault(title, [])
            line = rest.strip()
            if not line:
                continue
        if section is None:
            raise PlanFormatError("text before the first section title")
        if len(line) > MAX_PLAN_ITEM_LENGTH:
            raise PlanFormatError(f"an item longer than {MAX_PLAN_ITEM_LENGTH} characters")
        if line.casefold() not in {item.casefold() for item in section}:
            section.append(line)
        if len(section) > MAX_PLAN_ITEMS:
            raise PlanFormatError(f"more than {MAX_PLAN_ITEMS} items in a section")
    if not sections:
        raise PlanFormatError("no section title")
    items: dict[str, tuple[str, ...]] = {
        name: tuple(sections[name]) if name in sections else getattr(current, name)
        for name, _title in PLAN_SECTIONS}
    return Plan(client_id=current.client_id, **items)  # type: ignore[arg-type]  # sections only


def plan_as_text(plan: Plan, language: str) -> str:
    """The plan in the format parse_plan reads, so a clinician can copy, edit, send back."""
    blocks = []
    for title, items in plan_sections(plan):
        lines = [gettext_for(language, title) + ":"]
        lines += [f"- {item}" for item in items]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


__all__ = ["PLAN_EDIT_MINUTES", "PLAN_SECTIONS", "PlanFormatError", "edit_plan", "editable",
           "format_rules", "parse_plan", "plan_as_text", "plan_reply", "plan_sections",
           "section_titles", "view_plan"]
