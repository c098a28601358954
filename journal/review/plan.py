"""The self-management plan: its parts (journal/plan_default.toml), its text format, a
clinician editing it, each saved change a version, what changed between two versions, and
the items a client suggests."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from journal.errors import InvalidInput, NotAllowed, NotFound
from journal.i18n import LANGUAGES, N_, _, gettext_for
from journal.people import actor_of, visible_client
from journal.plan_parts import STAGE_FIELD, PlanParts, default_parts
from storage.records import (
    ENROLLED,
    IN_PROGRAM,
    Client,
    Clinician,
    Plan,
    PlanItem,
    PlanVersion,
)

if TYPE_CHECKING:  # only annotations: the report worker imports this, not SQLAlchemy
    from storage.uow import UnitOfWork

PLAN_EDIT_MINUTES: Final = 15  # a "/plan CODE" waits this long for the new plan
PLAN_EDIT_STATE: Final = "plan_edit"
MAX_REASON_LENGTH: Final = 200
CHAT_REASON: Final = N_("Changed in the chat")
ACCEPTED_REASON: Final = N_("A suggestion from the client")

# What a plan must look like, in words: its titles and limits filled in from the parts file.
FORMAT_RULES: Final = N_(
    "Start each section with its title on a line of its own ({titles}) and put one item a "
    "line, at most {items} a section and {length} characters an item. Add an item's other "
    "details after a bar, as in \"- item | {label}: ...\".")
# Its first line is what a locked phone shows: it names no treatment (journal/unasked.py).
CLIENT_PLAN_NOTICE: Final = N_(
    "You have an update waiting.\nSomething in your plan changed: send /plan to read it.")
# The first line of the other plan notices (a suggestion declined), as discreet.
NOTICE_FIRST_LINE: Final = N_("You have an update waiting.")
NO_STAGE: Final = N_("Not placed in a stage yet")


def parts() -> PlanParts:
    return default_parts()


def plan_sections(plan: Plan) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each part's title (a msgid, for the reader's language) and its items as one line
    each, in order (an item's other details after it)."""
    config = parts()
    return tuple((config.titles[name], tuple(item_line(plan, name, item, None)
                                             for item in plan.items(name)))
                 for name in config.parts)


def plan_lines(plan: Plan, language: str) -> list[tuple[str, list[str]]]:
    """Each part's title and its items, one line each, in `language`: the cycle's signs
    grouped by stage, earliest first, a stage's name before its signs."""
    config = parts()
    out = []
    for name in config.parts:
        items = plan.items(name)
        if name == "cycle":
            lines = []
            for stage in (*config.stages, ""):
                signs = [i.text for i in items if (i.field(STAGE_FIELD) or "") == stage
                         or (stage == "" and i.field(STAGE_FIELD) not in config.stages)]
                if signs:
                    lines.append(stage_title(plan, stage, language) + ": " + "; ".join(signs))
        else:
            lines = [item_line(plan, name, item, language) for item in items]
        out.append((gettext_for(language, config.titles[name]), lines))
    return out


def stage_title(plan: Plan, stage: str, language: str | None) -> str:
    """The client's own name for a stage, else the program's, in `language`."""
    own = plan.stage_name(stage)
    if own:
        return own
    msgid = parts().stage_names.get(stage)
    if msgid is None:
        return _in(language, NO_STAGE)
    return _in(language, msgid)


def _in(language: str | None, msgid: str) -> str:
    if language is None:
        return _(msgid)
    return gettext_for(language, msgid)


def item_line(plan: Plan, part: str, item: PlanItem, language: str | None) -> str:
    """"text | label: value | ..." with the part's fields, as the chat format writes it."""
    config = parts()
    bits = [item.text]
    for name in config.fields(part):
        value = item.field(name)
        if name == STAGE_FIELD and value:
            value = stage_title(plan, value, language)
        if value:
            bits.append(f"{_in(language, config.field_labels[name])}: {value}")
    return " | ".join(bits)


def section_titles(language: str) -> str:
    """The part titles as a reader writes them: "My offence cycle, High-risk situations..."."""
    config = parts()
    return ", ".join(gettext_for(language, config.titles[name]) for name in config.parts)


def format_rules(language: str) -> str:
    """FORMAT_RULES in `language`, with the parts file's titles and limits."""
    config = parts()
    return gettext_for(language, FORMAT_RULES).format(
        titles=section_titles(language), items=config.max_items, length=config.max_length,
        label=gettext_for(language, config.field_labels["reach"]))


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
                    now: datetime, reason: str = "") -> tuple[Client, Plan]:
    """Replace the sections the clinician sent, as the plan's next version."""
    client = await visible_client(uow, clinician, code)
    plan = parse_plan(text, await uow.plans.get(client.id))
    return client, await save_plan(uow, clinician, client, plan, now=now,
                                   reason=reason or gettext_for(client.language, CHAT_REASON))


async def save_plan(uow: UnitOfWork, clinician: Clinician, client: Client, plan: Plan, *,
                    now: datetime, reason: str) -> Plan:
    """Save `plan` as the next version (who, when, why); the check-in offers the new items
    from its next screen on, and the client is told in their language."""
    if not editable(client):
        raise NotAllowed("a discharged client's plan is kept as it was", key="plan.closed")
    reason = " ".join(reason.split())[:MAX_REASON_LENGTH]
    saved = await uow.plans.put(plan, by=clinician.id, now=now, reason=reason)
    counts = ", ".join(f"{name}: {len(saved.items(name))}" for name in parts().parts)
    await uow.audit(at=now, actor=actor_of(clinician), action="plan.edit",
                    client_id=client.id,
                    detail=f"client {client.code}: version {saved.version}: {counts}")
    if client.telegram_id is not None and client.status in ENROLLED:
        await uow.outbox.add(
            chat_id=client.telegram_id, kind="notice", method="sendMessage",
            params={"text": gettext_for(client.language, CLIENT_PLAN_NOTICE)}, now=now,
            client_id=client.id)
    return saved


@dataclass(frozen=True, slots=True)
class FormRow:
    """One row of a part's form: its position, its text, its details; `remove` drops it."""

    position: float
    text: str
    fields: tuple[tuple[str, str], ...] = ()
    remove: bool = False


def part_from_form(plan: Plan, part: str, rows: list[FormRow]) -> tuple[PlanItem, ...]:
    """A part's items from its form: reworded in place, removed, added and reordered (by
    position, ties keeping the form's order). Raises PlanFormatError naming no content."""
    config = parts()
    if part not in config.parts:
        raise PlanFormatError("no such part")
    kept: list[tuple[float, int, PlanItem]] = []
    for n, row in enumerate(rows):
        text = " ".join(row.text.split())
        if row.remove or not text:
            continue
        if len(text) > config.max_length:
            raise PlanFormatError(f"an item longer than {config.max_length} characters")
        extra = []
        for name in config.fields(part):
            value = " ".join(dict(row.fields).get(name, "").split())
            if name == STAGE_FIELD and value and value not in config.stages:
                raise PlanFormatError("a stage the offence cycle does not have")
            if len(value) > config.max_length:
                raise PlanFormatError(f"a detail longer than {config.max_length} characters")
            if value:
                extra.append((name, value))
        kept.append((row.position, n, PlanItem(text, tuple(extra))))
    kept.sort(key=lambda entry: (entry[0], entry[1]))
    items: list[PlanItem] = []
    for _pos, _n, item in kept:
        if item.text.casefold() not in {i.text.casefold() for i in items}:
            items.append(item)
    if len(items) > config.limit(part):
        raise PlanFormatError(f"more than {config.limit(part)} items in a section")
    return tuple(items)


async def edit_part(uow: UnitOfWork, clinician: Clinician, code: str, part: str,
                    rows: list[FormRow], *, reason: str, now: datetime) -> tuple[Client, Plan]:
    """One part changed from the workspace's form, as the plan's next version."""
    client = await visible_client(uow, clinician, code)
    plan = await uow.plans.get(client.id)
    items = part_from_form(plan, part, rows)
    return client, await save_plan(uow, clinician, client, with_parts(plan, {part: items}),
                                   now=now, reason=reason)


async def plan_history(uow: UnitOfWork, clinician: Clinician, code: str, *, now: datetime
                       ) -> tuple[Client, list[PlanVersion]]:
    """Every saved version, newest first (the view is audited as the plan's is)."""
    client = await visible_client(uow, clinician, code)
    versions = await uow.plans.versions(client.id)
    await uow.audit(at=now, actor=actor_of(clinician), action="plan.history",
                    client_id=client.id, detail=f"client {client.code}")
    return client, versions


# --- the plan's text format -------------------------------------------------------------

_BULLET = re.compile(r"^\s*(?:[-*•·–—]\s*|\d{1,2}[.)]\s+)")


def _header_names() -> dict[str, str]:
    """Part titles in every language, folded, to the part they start; the three section
    titles of old still name the parts they moved to."""
    config = parts()
    names: dict[str, str] = {}
    for name in config.parts:
        title = config.titles[name]
        for language in LANGUAGES:
            names[_fold(gettext_for(language, title))] = name
        names[_fold(title)] = name
    for old, new in ((N_("Warning signs"), "cycle"), (N_("Coping steps"), "coping")):
        for language in LANGUAGES:
            names.setdefault(_fold(gettext_for(language, old)), new)
    return names


def _field_names() -> dict[str, str]:
    config = parts()
    names: dict[str, str] = {}
    for field, label in config.field_labels.items():
        for language in LANGUAGES:
            names[_fold(gettext_for(language, label))] = field
        names[_fold(label)] = field
        names[_fold(field)] = field
    return names


def _stage_names(plan: Plan) -> dict[str, str]:
    config = parts()
    names: dict[str, str] = {}
    for stage in config.stages:
        for language in LANGUAGES:
            names[_fold(gettext_for(language, config.stage_names[stage]))] = stage
        names[_fold(stage)] = stage
        if plan.stage_name(stage):
            names[_fold(plan.stage_name(stage))] = stage
    return names


def _fold(text: str) -> str:
    return " ".join(text.replace(":", " ").split()).casefold()


def _item(line: str, part: str, plan: Plan) -> PlanItem:
    """"text | label: value | ..." as an item of `part`; raises naming no content."""
    config = parts()
    text, *rest = (bit.strip() for bit in line.split("|"))
    fields = _field_names()
    extra: dict[str, str] = {}
    for bit in rest:
        label, colon, value = bit.partition(":")
        field = fields.get(_fold(label)) if colon else None
        if field is None or field not in config.fields(part):
            raise PlanFormatError("an item detail the section does not have")
        value = value.strip()
        if field == STAGE_FIELD and value:
            stage = _stage_names(plan).get(_fold(value))
            if stage is None:
                raise PlanFormatError("a stage the offence cycle does not have")
            value = stage
        if len(value) > config.max_length:
            raise PlanFormatError(f"a detail longer than {config.max_length} characters")
        extra[field] = value
    if not text:
        raise PlanFormatError("an item with details but no text")
    if len(text) > config.max_length:
        raise PlanFormatError(f"an item longer than {config.max_length} characters")
    return PlanItem(text, tuple((f, extra[f]) for f in config.fields(part) if extra.get(f)))


def parse_plan(text: str, current: Plan) -> Plan:
    """Read a plan sent as sections, one item a line:

        My offence cycle:
        - staying up late online | stage: Build-up
        High-risk situations:
        - alone at the park | avoid: take the other road | get out: leave at once
        Coping strategies:
        - call my sponsor

    A section left out keeps what it had; a section title with no lines empties it.
    Bullets and numbering are optional. Raises PlanFormatError, naming no content."""
    config = parts()
    headers = _header_names()
    sections: dict[str, list[PlanItem]] = {}
    section: list[PlanItem] | None = None
    name = ""
    for raw in text.replace("\r", "\n").split("\n"):
        line = _BULLET.sub("", raw).strip()
        if not line:
            continue
        head, colon, rest = line.partition(":")
        title = headers.get(_fold(head)) if colon and "|" not in head else headers.get(
            _fold(line))
        if title is not None:
            name = title
            section = sections.setdefault(title, [])
            line = rest.strip() if colon else ""
            if not line:
                continue
        if section is None:
            raise PlanFormatError("text before the first section title")
        item = _item(line, name, current)
        if item.text.casefold() not in {known.text.casefold() for known in section}:
            section.append(item)
        if len(section) > config.limit(name):
            raise PlanFormatError(f"more than {config.limit(name)} items in a section")
    if not sections:
        raise PlanFormatError("no section title")
    return with_parts(current, {name: tuple(items) for name, items in sections.items()})


def with_parts(current: Plan, changed: dict[str, tuple[PlanItem, ...]]) -> Plan:
    """`current` with the parts in `changed` replaced, in the parts file's order."""
    config = parts()
    order = list(config.parts) + [n for n, _i in current.parts if n not in config.parts]
    return Plan(current.client_id, tuple(
        (name, changed[name] if name in changed else current.items(name)) for name in order
        if (changed[name] if name in changed else current.items(name))),
        current.stage_names, current.updated_at, current.version)


def plan_as_text(plan: Plan, language: str) -> str:
    """The plan in the format parse_plan reads, so a clinician can copy, edit, send back."""
    config = parts()
    blocks = []
    for name in config.parts:
        lines = [gettext_for(language, config.titles[name]) + ":"]
        lines += [f"- {item_line(plan, name, item, language)}" for item in plan.items(name)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


# --- what changed between two versions --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """One change in a part: "added", "removed", "reworded", "changed" (details), "moved"."""

    part: str
    kind: str
    before: str = ""
    after: str = ""


REWORD_LIKENESS: Final = 0.5  # how alike two texts must be to read as one item reworded


def diff_plans(old: Plan, new: Plan) -> list[Change]:
    """What changed from `old` to `new`, part by part in the parts file's order: an item
    kept (same text) whose details changed, kept but out of its order (moved), an old and a
    new item alike enough to be one reworded, and what is left removed or added."""
    changes: list[Change] = []
    for part in parts().parts:
        before, after = list(old.items(part)), list(new.items(part))
        new_by_text = {item.text.casefold(): n for n, item in enumerate(after)}
        kept = [(o, new_by_text[item.text.casefold()]) for o, item in enumerate(before)
                if item.text.casefold() in new_by_text]
        in_order = _longest_rising([n for _o, n in kept])
        for o, n in kept:
            x, y = before[o], after[n]
            if n not in in_order:
                changes.append(Change(part, "moved", item_line(old, part, x, None)))
            if x.extra != y.extra:
                changes.append(Change(part, "changed", item_line(old, part, x, None),
                                      item_line(new, part, y, None)))
        gone = [o for o in range(len(before)) if o not in {o for o, _n in kept}]
        came = [n for n in range(len(after)) if n not in {n for _o, n in kept}]
        likeness = sorted(
            ((difflib.SequenceMatcher(None, before[o].text.casefold(),
                                      after[n].text.casefold()).ratio(), o, n)
             for o in gone for n in came), reverse=True)
        paired: dict[int, int] = {}
        for ratio, o, n in likeness:
            if ratio >= REWORD_LIKENESS and o not in paired and n not in paired.values():
                paired[o] = n
        for o in gone:
            x = before[o]
            if o in paired:
                changes.append(Change(part, "reworded", item_line(old, part, x, None),
                                      item_line(new, part, after[paired[o]], None)))
            else:
                changes.append(Change(part, "removed", item_line(old, part, x, None)))
        changes += [Change(part, "added", after=item_line(new, part, after[n], None))
                    for n in came if n not in paired.values()]
    return changes


def _longest_rising(values: list[int]) -> set[int]:
    """The values of a longest rising run through `values` (the items still in order)."""
    best: list[list[int]] = []
    for value in values:
        runs = [run for run in best if run[-1] < value]
        best.append(max(runs, key=len, default=[]) + [value])
    longest: list[int] = []
    for run in best:
        if len(run) > len(longest):
            longest = run
    return set(longest)


__all__ = ["PLAN_EDIT_MINUTES", "Change", "FormRow", "edit_part", "part_from_form", "plan_history", "PlanFormatError", "diff_plans", "edit_plan",
           "editable", "format_rules", "item_line", "plan_lines", "parse_plan", "parts", "plan_as_text",
           "plan_reply", "plan_sections", "save_plan", "section_titles", "stage_title",
           "view_plan", "with_parts"]
