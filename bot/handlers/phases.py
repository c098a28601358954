"""Treatment phases in the chat: /phase, /stepdown, /stepup, /approve for staff, /progress
for the client."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.filters import Role, client_of
from bot.outgoing import Outgoing
from journal.checkin.questionnaire import Questionnaire
from journal.checkin.schedule import days_text
from journal.errors import InvalidInput
from journal.i18n import _, current_language, ngettext
from journal.people import CURRENT, Person, visible_client
from journal.phases.service import PhaseService
from journal.review.model import domain_labels
from journal.times import shown_time
from storage.uow import UnitOfWork


def _code_and_rest(args: str | None, usage: str) -> tuple[str, str]:
    words = (args or "").split(maxsplit=1)
    if not words:
        raise InvalidInput("no code", key=usage)
    return words[0].upper(), words[1] if len(words) > 1 else ""


async def show_phase(message: Message, command: CommandObject, person: Person,
                     uow: UnitOfWork, out: Outgoing, phases: PhaseService) -> None:
    """/phase CODE: the client's phase, days in it, the next step's criteria met and not
    met, and the path so far."""
    assert person.clinician is not None
    code, _rest = _code_and_rest(command.args, "phase.usage")
    client = await visible_client(uow, person.clinician, code, statuses=CURRENT)
    language = current_language.get()
    progress = await phases.progress(uow, client)
    lines = [ngettext("Client {code}: phase \"{name}\" ({number} of {count}), {days} day, "
                      "check-ins {when}.",
                      "Client {code}: phase \"{name}\" ({number} of {count}), {days} days, "
                      "check-ins {when}.", progress.days_in_phase).format(
                 code=client.code, name=progress.phase.name.get(language),
                 number=phases.phases.phases.index(progress.phase) + 1,
                 count=len(phases.phases.phases), days=progress.days_in_phase,
                 when=days_text(client.checkin_days, language))]
    if progress.next is not None:
        lines += ["", _("To step down to \"{name}\":").format(name=progress.next.name.get(language))]
        for state in progress.criteria:
            mark = "✅" if state.met else "❌"
            lines.append(f"{mark} {phases.criterion_text(state, language, staff=True)}")
        if progress.ready:
            lines += ["", _("All met. To propose the step: /stepdown {code}").format(
                code=client.code)]
    timeline = await phases.timeline(uow, client)
    if timeline:
        lines += ["", _("Path:")]
        for step in timeline:
            arrow = "↓" if step.direction == "down" else "↑"
            lines.append(_("{arrow} {when}: {start} to {end}").format(
                arrow=arrow, when=shown_time(step.applied_at or step.at,
                                             phases.staff_zone(person.clinician)),
                start=phases.phases.of(step.from_phase).name.get(language),
                end=phases.phases.of(step.to_phase).name.get(language)))
    out.send(message.chat.id, "\n".join(lines))


async def step_down(message: Message, command: CommandObject, person: Person,
                    uow: UnitOfWork, out: Outgoing, phases: PhaseService) -> None:
    assert person.clinician is not None
    code, reason = _code_and_rest(command.args, "phase.stepdown_usage")
    step = await phases.propose(uow, person.clinician, code, reason)
    language = current_language.get()
    out.send(message.chat.id, _(
        "Proposed: client {code} steps down to \"{name}\". Nothing changes until a supervisor "
        "approves it.").format(code=code, name=phases.phases.of(step.to_phase).name.get(language)))


async def approve(message: Message, command: CommandObject, person: Person,
                  uow: UnitOfWork, out: Outgoing, phases: PhaseService) -> None:
    assert person.clinician is not None
    if not (command.args or "").strip() and person.clinician.is_supervisor:
        await _list_awaiting(message, person, uow, out, phases)
        return
    code, _rest = _code_and_rest(command.args, "phase.approve_usage")
    step = await phases.approve(uow, person.clinician, code)
    language = current_language.get()
    out.send(message.chat.id, _(
        "Approved: client {code} is now in \"{name}\". The client and their clinician are "
        "told.").format(code=code, name=phases.phases.of(step.to_phase).name.get(language)))


async def _list_awaiting(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                         phases: PhaseService) -> None:
    """/approve alone, for a supervisor: the step-down proposals waiting for approval."""
    assert person.clinician is not None
    pending = await phases.awaiting(uow, person.clinician)
    if not pending:
        out.send(message.chat.id, _("No step down is waiting for approval."))
        return
    language = current_language.get()
    lines = [_("Step downs waiting for approval:")]
    for code, step, proposer in pending:
        lines.append(_("• {code}: {start} to {end}, proposed by {name}. /approve {code}").format(
            code=code, start=phases.phases.of(step.from_phase).name.get(language),
            end=phases.phases.of(step.to_phase).name.get(language), name=proposer))
    out.send(message.chat.id, "\n".join(lines))


async def step_up(message: Message, command: CommandObject, person: Person,
                  uow: UnitOfWork, out: Outgoing, phases: PhaseService) -> None:
    assert person.clinician is not None
    code, reason = _code_and_rest(command.args, "phase.stepup_usage")
    step = await phases.step_up_by(uow, person.clinician, code, reason)
    language = current_language.get()
    out.send(message.chat.id, _(
        "Client {code} is now in \"{name}\", from today.").format(
            code=code, name=phases.phases.of(step.to_phase).name.get(language)))


async def progress(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                   phases: PhaseService) -> None:
    client = client_of(person)
    out.send(message.chat.id, phases.progress_text(await phases.progress(uow, client),
                                                   current_language.get()))


async def rate(message: Message, command: CommandObject, person: Person, uow: UnitOfWork,
               out: Outgoing, phases: PhaseService, questionnaire: Questionnaire) -> None:
    """/rate CODE: the domains to rate and the latest rating; /rate CODE 0120100 [note]:
    the clinician's rating of each, in that order (0 no concern, 1 some, 2 definite)."""
    assert person.clinician is not None
    code, rest = _code_and_rest(command.args, "rating.usage")
    language = current_language.get()
    labels = domain_labels(questionnaire, language)
    if not rest.strip():
        client, latest = await phases.latest_rating(uow, person.clinician, code)
        lines = [_("Rate each area for client {code}, in this order (0 no concern, 1 some, "
                   "2 definite), as clinical judgement, not a scored assessment:").format(
                       code=client.code)]
        lines += [f"{n}. {labels.get(d, d)}" for n, d in enumerate(phases.domains, 1)]
        lines += ["", _("For example: /rate {code} {example} short note").format(
            code=client.code, example="0" * len(phases.domains))]
        if latest is not None:
            lines.append(_("Last rated {when}: {digits}.").format(
                when=shown_time(latest.at, phases.staff_zone(person.clinician)),
                digits="".join(str(latest.ratings.get(d, "-")) for d in phases.domains)))
        out.send(message.chat.id, "\n".join(lines))
        return
    digits, _space, note = rest.strip().partition(" ")
    await phases.rate(uow, person.clinician, code, phases.parse_rating(digits), note)
    out.send(message.chat.id, _("Rating saved for client {code}. The client page and the "
                                "report show it beside the month's self-report.").format(
                                    code=code))


def build_staff_router() -> Router:
    router = Router(name=__name__ + ".staff")
    router.message.filter(Role("clinician", "supervisor"))
    router.message.register(show_phase, Command("phase"))
    router.message.register(step_down, Command("stepdown"))
    router.message.register(step_up, Command("stepup"))
    router.message.register(approve, Command("approve"))
    router.message.register(rate, Command("rate"))
    return router


def build_client_router() -> Router:
    router = Router(name=__name__ + ".client")
    router.message.filter(Role("client"))
    router.message.register(progress, Command("progress"))
    return router
