"""Homework: tasks a clinician gives between sessions and the clients' answers.

A task comes from the program's library (journal/homework.toml: an anger log, a
thinking-error log, a victim-empathy letter, the cycle, a Good-Lives step) or is written for
the client, with a due date (the client's local date: due by the end of it). The client gets
it in the chat and answers in text over as many messages as they like; the answer lives
only in the sealed homework row (a draft until Done), so they can save it and come back. As
with the journal, each message leaves the chat once it is stored, and the conversation row
remembers ids and a part count, never what was written. Staff see done, late and missing,
read the answer (audited) and mark it discussed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from journal.appointments import zone_of
from journal.buttons import HOMEWORK_START, Button, rows_data
from journal.checkin.days import local_instant, parse_hhmm
from journal.checkin.questionnaire_file import file_version, read_data_file
from journal.clock import Clock
from journal.errors import DataFileError, DomainError, InvalidInput, NotAllowed, NotFound
from journal.i18n import N_, gettext_for
from journal.people import visible_client
from journal.staff import StaffDefaults
from journal.times import shown_time
from storage.records import Client, ClientStatus, Clinician, Conversation, Homework
from storage.uow import Store, UnitOfWork

log = logging.getLogger(__name__)

DEFAULT_FILE: Final = "homework.toml"
HOMEWORK_STATE: Final = "homework"
OWN: Final = "own"  # the task code of a text written for the client
PROMPT_LIMIT: Final = 2000
PART_LIMIT: Final = 4096
ANSWER_LIMIT: Final = 20_000
PART_SEPARATOR: Final = "\n\n"

# Where a task stands for staff.
OPEN, DRAFT, DONE, LATE, MISSING = "open", "draft", "done", "late", "missing"
STATE_NAMES: Final[Mapping[str, str]] = MappingProxyType({
    OPEN: N_("not yet due"), DRAFT: N_("started, not handed in"), DONE: N_("done"),
    LATE: N_("done late"), MISSING: N_("missing")})
OWN_TITLE: Final = N_("A task from your clinician")

# The first line a lock screen shows names no task.
NEW_TEXT: Final = N_("You have a new task, due {date}.")
REMINDER_TEXT: Final = N_("Reminder: you have a task due {date}.")
ANSWER_LABEL: Final = N_("Answer now")
HANDED_IN: Final = N_("Client {code} handed in the task “{title}”.")

SentHook = Callable[[int], Awaitable[None]]


class HomeworkError(DataFileError):
    """The homework file is not valid."""


class PartTooLong(DomainError):
    key = "journal.part_too_long"


class AnswerFull(DomainError):
    key = "homework.full"


class AnswerEmpty(DomainError):
    key = "homework.empty"


@dataclass(frozen=True)
class HomeworkLibrary:
    titles: Mapping[str, str]
    prompts: Mapping[str, str]
    reminder_time: time = time(18, 0)

    def title(self, task: str, language: str) -> str:
        return gettext_for(language, self.titles.get(task, OWN_TITLE))

    def prompt(self, homework: Homework, language: str) -> str:
        if homework.task == OWN or homework.task not in self.prompts:
            return homework.prompt
        return gettext_for(language, self.prompts[homework.task])


def load_library(path: Path | None = None) -> HomeworkLibrary:
    return parse_library(read_data_file(path, DEFAULT_FILE, HomeworkError, "homework"))


def parse_library(data: Mapping[str, Any]) -> HomeworkLibrary:
    problems: list[str] = []
    for key in sorted(set(data) - {"id", "version", "reminder_time", "titles", "prompts"}):
        problems.append(f"unknown top-level key {key!r}")
    file_version(data, problems)
    titles, prompts = data.get("titles", {}), data.get("prompts", {})
    if not isinstance(titles, dict) or not isinstance(prompts, dict) or not titles:
        problems.append("[titles] and [prompts] must be tables of task = \"text\"")
        titles, prompts = {}, {}
    if set(titles) != set(prompts):
        problems.append("every task needs a title and a prompt: "
                        + ", ".join(sorted(set(titles) ^ set(prompts))))
    for code in titles:
        if code == OWN or not isinstance(code, str) or not code.replace("_", "").isalnum():
            problems.append(f"task {code!r}: a code like anger_log (not {OWN!r})")
    for text in (*titles.values(), *prompts.values()):
        if not isinstance(text, str) or not text.strip():
            problems.append("every title and prompt must be a non-empty text")
            break
    try:
        reminder = parse_hhmm(str(data.get("reminder_time", "18:00")))
    except ValueError:
        problems.append('reminder_time must be "HH:MM"')
        reminder = time(18, 0)
    if problems:
        raise HomeworkError(problems)
    return HomeworkLibrary(MappingProxyType(dict(titles)), MappingProxyType(dict(prompts)),
                           reminder)


@dataclass(frozen=True, slots=True)
class HomeworkRequest:
    codes: tuple[str, ...]
    task: str
    due: date
    text: str = ""


def parse_request(args: str | None) -> HomeworkRequest:
    """`CODE[,CODE...] TASK YYYY-MM-DD [text written for the client]`."""
    words = (args or "").split(maxsplit=3)
    if len(words) < 3:
        raise InvalidInput("too few words", key="homework.usage")
    codes = tuple(c.strip().upper() for c in words[0].split(",") if c.strip())
    try:
        due = date.fromisoformat(words[2])
    except ValueError:
        raise InvalidInput("bad date", key="homework.usage") from None
    return HomeworkRequest(codes, words[1].lower(), due, words[3] if len(words) > 3 else "")


@dataclass(frozen=True, slots=True)
class OpenAnswer:
    homework_id: str
    parts: int
    status_message_id: int | None
    resumed: bool = False
    previous_status_message_id: int | None = None


@dataclass(frozen=True, slots=True)
class HomeworkLine:
    """One task as a list shows it, in the reader's language."""

    id: str
    title: str
    due: date
    state: str  # OPEN | DRAFT | DONE | LATE | MISSING
    state_name: str
    answered_at: datetime | None
    discussed_at: datetime | None


def state_of(homework: Homework, now: datetime) -> str:
    if homework.status == "done":
        assert homework.answered_at is not None
        return LATE if homework.answered_at >= homework.due_at else DONE
    if now >= homework.due_at:
        return MISSING
    return DRAFT if homework.status == "draft" else OPEN


class HomeworkService:
    """Keyword-only: `library` is the homework file; `store` opens the short transaction
    that remembers the progress message's id after it was sent; `hygiene` removes each
    answered message from the chat once stored."""

    def __init__(self, *, clock: Clock, store: Store, library: HomeworkLibrary,
                 hygiene: bool = True, staff_language: str = "en",
                 display_timezone: str = "UTC") -> None:
        self._clock = clock
        self._store = store
        self.library = library
        self.hygiene = hygiene
        self._staff = StaffDefaults(staff_language, display_timezone)

    # -- assigning ------------------------------------------------------------------------
    async def assign(self, uow: UnitOfWork, clinician: Clinician, request: HomeworkRequest
                     ) -> list[tuple[Client, Homework]]:
        """The same task for each client named; each must be the clinician's to see, else
        nothing is assigned."""
        if not request.codes:
            raise InvalidInput("no client", key="homework.usage")
        self._check(request)
        clients = [await visible_client(uow, clinician, code,
                                        statuses=(ClientStatus.ACTIVE, ClientStatus.PAUSED))
                   for code in dict.fromkeys(request.codes)]
        return await self.assign_to(uow, clinician, clients, request)

    def _check(self, request: HomeworkRequest) -> None:
        if request.task != OWN and request.task not in self.library.titles:
            raise InvalidInput("unknown task", key="homework.task")
        text = request.text.strip()
        if request.task == OWN and not text:
            raise InvalidInput("own task without text", key="homework.usage")
        if len(text) > PROMPT_LIMIT:
            raise InvalidInput("task too long", key="homework.too_long")

    async def assign_to(self, uow: UnitOfWork, clinician: Clinician,
                        clients: Sequence[Client], request: HomeworkRequest
                        ) -> list[tuple[Client, Homework]]:
        """The task for clients the caller has checked the clinician may give it to (their
        own, or a group's members for its facilitator: journal/groups.py)."""
        self._check(request)
        text = request.text.strip()
        now = self._clock.now()
        made = []
        for client in clients:
            zone = zone_of(client.timezone)
            due_at = local_instant(request.due + timedelta(days=1), time(0), zone)
            if due_at <= now:
                raise InvalidInput("due in the past", key="homework.past")
            remind_at = local_instant(request.due - timedelta(days=1),
                                      self.library.reminder_time, zone)
            homework = await uow.homework.add(
                client_id=client.id, clinician_id=clinician.id, task=request.task,
                prompt=text if request.task == OWN else "", due_date=request.due,
                due_at=due_at, next_due_at=remind_at if remind_at > now else None, now=now)
            await uow.audit(at=now, actor=f"clinician:{clinician.id}", action="homework.assign",
                            client_id=client.id, detail=f"homework {homework.id} {request.task}")
            if client.telegram_id is not None and not client.unreachable:
                await self._tell(uow, client, homework, NEW_TEXT, dedupe=f"hw-new:{homework.id}")
            made.append((client, homework))
        return made

    async def _tell(self, uow: UnitOfWork, client: Client, homework: Homework, first: str, *,
                    dedupe: str) -> None:
        language = client.language
        text = "\n".join([gettext_for(language, first).format(date=homework.due_date.isoformat()),
                          "", self.library.title(homework.task, language),
                          self.library.prompt(homework, language)])
        assert client.telegram_id is not None
        await uow.outbox.add(
            chat_id=client.telegram_id, kind="notice", method="sendMessage",
            params={"text": text, "buttons": rows_data([[Button(
                HOMEWORK_START, gettext_for(language, ANSWER_LABEL), homework=homework.id)]])},
            now=self._clock.now(), client_id=client.id, dedupe_key=dedupe)

    # -- the client's answer ----------------------------------------------------------------
    async def open_tasks(self, uow: UnitOfWork, client: Client) -> list[tuple[Homework, str]]:
        """What the client has still to hand in, with each task's title in their language."""
        return [(h, self.library.title(h.task, client.language))
                for h in await uow.homework.open_of_client(client.id)]

    async def _own(self, uow: UnitOfWork, client: Client, homework_id: str) -> Homework:
        homework = await uow.homework.get(homework_id, lock=True)
        if homework is None or homework.client_id != client.id:
            raise NotFound("no such homework", key="homework.gone")
        if homework.status == "done":
            raise NotAllowed("handed in", key="homework.handed_in")
        return homework

    async def start(self, uow: UnitOfWork, client: Client, homework_id: str) -> OpenAnswer:
        """Open the task for answering (again: a draft goes on where it stopped)."""
        homework = await self._own(uow, client, homework_id)
        tid = _telegram_id(client)
        conversation = await uow.conversations.get(tid)
        previous = None
        if (conversation is not None and conversation.state == HOMEWORK_STATE):
            previous = conversation.data.get("status")
        parts = _parts(homework, conversation)
        await uow.conversations.set(tid, HOMEWORK_STATE, {"homework": homework.id,
                                                          "parts": parts}, self._clock.now())
        return OpenAnswer(homework.id, parts, None, resumed=bool(parts),
                          previous_status_message_id=previous)

    async def open_answer(self, uow: UnitOfWork, client: Client) -> OpenAnswer | None:
        """The task the client is answering right now, if their conversation is one."""
        if client.telegram_id is None:
            return None
        conversation = await uow.conversations.get(client.telegram_id)
        if conversation is None or conversation.state != HOMEWORK_STATE:
            return None
        data = conversation.data
        return OpenAnswer(str(data.get("homework", "")), int(data.get("parts", 0)),
                          data.get("status"))

    async def append(self, uow: UnitOfWork, client: Client, text: str) -> OpenAnswer:
        """One more message of the answer, stored sealed as a draft at once."""
        current = await self.open_answer(uow, client)
        if current is None:
            raise NotFound("no answer open", key="homework.gone")
        homework = await self._own(uow, client, current.homework_id)
        if len(text) > PART_LIMIT:
            raise PartTooLong("part over the limit")
        body = homework.answer + PART_SEPARATOR + text if homework.answer else text
        if len(body) > ANSWER_LIMIT:
            raise AnswerFull("answer over the limit")
        await uow.homework.update(homework.id, answer=body, status="draft")
        now = self._clock.now()
        tid = _telegram_id(client)
        conversation = await uow.conversations.get(tid)
        data = dict(conversation.data) if conversation is not None else {}
        data["homework"] = homework.id
        data["parts"] = int(data.get("parts", 0)) + 1
        await uow.conversations.set(tid, HOMEWORK_STATE, data, now)
        return OpenAnswer(homework.id, data["parts"], data.get("status"))

    async def save_draft(self, uow: UnitOfWork, client: Client, homework_id: str
                         ) -> OpenAnswer:
        """Close the answer for now; what was written stays, sealed, for later."""
        homework = await self._own(uow, client, homework_id)
        return await self._close(uow, client, homework)

    async def finish(self, uow: UnitOfWork, client: Client, homework_id: str) -> OpenAnswer:
        """Hand the answer in: the clinician is told (the task's title, never the answer)."""
        homework = await self._own(uow, client, homework_id)
        if not homework.answer.strip():
            raise AnswerEmpty("nothing written")
        now = self._clock.now()
        await uow.homework.update(homework.id, status="done", answered_at=now,
                                  next_due_at=None)
        closed = await self._close(uow, client, homework)
        clinician = await uow.clinicians.get(homework.clinician_id)
        if clinician is None or not clinician.active:
            clinician = await uow.clinicians.get(client.clinician_id)
        if clinician is not None:
            locale = self._staff.of(clinician)
            await uow.outbox.add(
                chat_id=clinician.telegram_id, kind="notice", method="sendMessage",
                params={"text": gettext_for(locale.language, HANDED_IN).format(
                    code=client.code, title=self.library.title(homework.task,
                                                               locale.language))},
                now=now, client_id=client.id)
        return closed

    async def _close(self, uow: UnitOfWork, client: Client, homework: Homework) -> OpenAnswer:
        tid = _telegram_id(client)
        conversation = await uow.conversations.get(tid)
        status = None
        if (conversation is not None and conversation.state == HOMEWORK_STATE
                and conversation.data.get("homework") == homework.id):
            status = conversation.data.get("status")
            await uow.conversations.clear(tid)
        return OpenAnswer(homework.id, _parts(homework, conversation), status)

    def remember_status_message(self, client: Client, homework_id: str) -> SentHook:
        tid = _telegram_id(client)

        async def remember(message_id: int) -> None:
            try:
                async with self._store.transaction() as uow:
                    conversation = await uow.conversations.get(tid)
                    if (conversation is None or conversation.state != HOMEWORK_STATE
                            or conversation.data.get("homework") != homework_id):
                        return
                    await uow.conversations.set(tid, HOMEWORK_STATE,
                                                dict(conversation.data, status=message_id),
                                                self._clock.now())
            except Exception as exc:  # the next part then sends a fresh progress message
                log.warning("could not remember the homework progress message: %s",
                            type(exc).__name__)

        return remember

    # -- staff ------------------------------------------------------------------------------
    def _line(self, homework: Homework, language: str, now: datetime) -> HomeworkLine:
        state = state_of(homework, now)
        return HomeworkLine(homework.id, self.library.title(homework.task, language),
                            homework.due_date, state, gettext_for(language, STATE_NAMES[state]),
                            homework.answered_at, homework.discussed_at)

    async def for_staff(self, uow: UnitOfWork, clinician: Clinician, code: str
                        ) -> tuple[Client, list[HomeworkLine]]:
        client = await visible_client(uow, clinician, code)
        language = self._staff.of(clinician).language
        now = self._clock.now()
        return client, [self._line(h, language, now)
                        for h in await uow.homework.of_client(client.id)]

    async def visible(self, uow: UnitOfWork, clinician: Clinician, homework_id: str
                      ) -> tuple[Client, Homework]:
        homework = await uow.homework.get(homework_id)
        client = await uow.clients.get(homework.client_id) if homework else None
        if (homework is None or client is None or client.status == "erased"
                or not (clinician.is_supervisor or client.clinician_id == clinician.id
                        or homework.clinician_id == clinician.id)):
            raise NotFound("no such homework", key="homework.gone")
        return client, homework

    async def read(self, uow: UnitOfWork, clinician: Clinician, homework_id: str
                   ) -> tuple[Client, Homework, HomeworkLine, str]:
        """A task with its answer (or draft) for staff: audited, like every reading."""
        client, homework = await self.visible(uow, clinician, homework_id)
        language = self._staff.of(clinician).language
        await uow.audit(at=self._clock.now(), actor=f"clinician:{clinician.id}",
                        action="homework.read", client_id=client.id,
                        detail=f"homework {homework.id}")
        return (client, homework, self._line(homework, language, self._clock.now()),
                self.library.prompt(homework, language))

    async def mark_discussed(self, uow: UnitOfWork, clinician: Clinician, homework_id: str
                             ) -> Client:
        client, homework = await self.visible(uow, clinician, homework_id)
        now = self._clock.now()
        if homework.discussed_at is None:
            await uow.homework.update(homework.id, discussed_at=now)
            await uow.audit(at=now, actor=f"clinician:{clinician.id}",
                            action="homework.discussed", client_id=client.id,
                            detail=f"homework {homework.id}")
        return client

    def staff_when(self, clinician: Clinician, moment: datetime) -> str:
        return shown_time(moment, self._staff.of(clinician).timezone)

    # -- the scheduler's part -----------------------------------------------------------------
    async def visit(self, uow: UnitOfWork, homework: Homework, now: datetime) -> bool:
        """The reminder of a task not handed in, once; True when one was queued."""
        await uow.homework.update(homework.id, next_due_at=None, reminded_at=now)
        client = await uow.clients.get(homework.client_id)
        if (client is None or client.status != ClientStatus.ACTIVE or homework.status == "done"
                or now >= homework.due_at or client.telegram_id is None or client.unreachable):
            return False
        await self._tell(uow, client, homework, REMINDER_TEXT, dedupe=f"hw-remind:{homework.id}")
        return True


def _parts(homework: Homework, conversation: Conversation | None) -> int:
    if (conversation is not None and conversation.state == HOMEWORK_STATE
            and conversation.data.get("homework") == homework.id):
        return int(conversation.data.get("parts", 0))
    return homework.answer.count(PART_SEPARATOR) + 1 if homework.answer else 0


def _telegram_id(client: Client) -> int:
    if client.telegram_id is None:
        raise NotAllowed("the client has no Telegram account")
    return client.telegram_id


__all__ = ["HOMEWORK_STATE", "OWN", "STATE_NAMES", "HomeworkLibrary", "HomeworkLine",
           "HomeworkRequest", "HomeworkService", "OpenAnswer", "load_library", "parse_library",
           "parse_request", "state_of"]
