"""The daily check-in as use cases: prompt, answer item by item, summary, submit, streak, and
the lifecycle the scheduler's tick drives: open a day, remind, close it (missed).

The flow itself is journal.checkin.flow's pure state machine; this module stores it, guards
it against stale buttons and double taps, raises alerts as answers are saved, and says what
the check-in message should show next (journal.checkin.view). When a day opens and closes
is journal.checkin.days's rule; the scheduler decides only when to call in. It never talks
to Telegram, and commits only in `remember_message`'s hook, which runs after the update's
transaction and so needs one of its own; every other use case runs in the caller's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from journal import telemetry
from journal.checkin import flow
from journal.checkin.days import DEFAULT_WINDOW, STREAK_LOOKBACK, Window, local_date, streak_ending
from journal.checkin.flow import CheckInError, InvalidAnswer, QuestionnaireChanged, Stored
from journal.checkin.messages import prompt_params, reminder_params
from journal.checkin.questionnaire import Item, Questionnaire, options_for
from journal.checkin.view import (
    ALREADY_DONE,
    ALREADY_SAVED,
    CLOSED,
    NOT_FINISHED,
    CheckInView,
    Step,
    view_of,
)
from journal.clock import Clock
from journal.entries import JOURNAL_STATE
from journal.errors import DomainError, InvalidInput
from storage.records import ASKED, OVER, CheckIn, Client, DayStatus, ScheduledDay
from storage.repositories import DuplicateError, NewMessage
from storage.uow import Store, UnitOfWork

if TYPE_CHECKING:  # journal.alerts reads stored check-ins through flow.answers_of()
    from journal.alerts.service import AlertService
    from journal.phases.service import PhaseService

SentHook = Callable[[int], Awaitable[None]]


class TextTooLong(DomainError):
    """A typed answer longer than the item allows (the text itself is never kept)."""

    key = "checkin.too_long"


@dataclass
class _Open:
    checkin: CheckIn
    stored: Stored
    plan: tuple[str, ...] = field(default=())


class CheckInService:
    def __init__(self, *, clock: Clock, questionnaire: Questionnaire, alerts: AlertService,
                 store: Store, later_delay: timedelta = timedelta(minutes=60),
                 window: timedelta = DEFAULT_WINDOW, phases: PhaseService | None = None) -> None:
        """`window`: how long after the check-in time a day stays open (the scheduler marks
        the day missed then); a check-in started before midnight can be finished after.
        `phases`: told of each submitted check-in, to tell the clinician when a client meets
        their phase's criteria."""
        self._phases = phases
        self._clock = clock
        self._q = questionnaire
        self._alerts = alerts
        self._store = store
        self._later = later_delay
        self.window = Window(window)

    # -- days ----------------------------------------------------------------------------
    def today(self, client: Client) -> date:
        """The client's local date, in their own time zone."""
        return local_date(client, self._clock.now())

    def is_open(self, client: Client, day: date) -> bool:
        """Whether `day`'s check-in can still be answered (journal.checkin.days)."""
        return self.window.is_open(client, day, self._clock.now())

    def closes_at(self, client: Client, day: date) -> datetime:
        """Until when `day` can be answered: a prompt or reminder for it is of no use after."""
        return self.window.useful_until(client, day)

    async def current_day(self, uow: UnitOfWork, client: Client) -> date:
        """The day /checkin and typed answers work on: yesterday's check-in while it is
        still open and unfinished, otherwise today's."""
        yesterday = self.today(client) - timedelta(days=1)
        if self.is_open(client, yesterday):
            earlier = await uow.checkins.for_day(client.id, yesterday)
            if earlier is not None and earlier.status in ASKED:
                return yesterday
        return self.today(client)

    async def _create(self, uow: UnitOfWork, client: Client, day: date, status: DayStatus,
                      ) -> tuple[CheckIn, bool]:
        """The day's check-in row, and whether this call created it: the one place a row is
        made, whether the client opens it, the prompt does, or the window closes unseen."""
        now = self._clock.now()
        asked = [] if status == DayStatus.MISSED else [item.id for item in self._q.items]
        try:
            created = await uow.checkins.create(
                client_id=client.id, local_date=day, status=status, questionnaire_id=self._q.id,
                questionnaire_version=str(self._q.version), item_ids=asked, now=now,
                prompted_at=now if status == DayStatus.PROMPTED else None)
        except DuplicateError:  # created meanwhile by another worker: use that one
            existing = await uow.checkins.for_day(client.id, day, lock=True)
            assert existing is not None
            return existing, False
        return created, True

    # -- the day's lifecycle, as the scheduler's tick drives it ---------------------------
    async def close_day(self, uow: UnitOfWork, client: Client, day: date,
                        known: ScheduledDay | None) -> ScheduledDay | None:
        """The window closed: the day is missed unless it was submitted. Returns the day as
        it now stands, or None when there was nothing to mark."""
        if known is None:
            created, new = await self._create(uow, client, day, DayStatus.MISSED)
            if new:
                return ScheduledDay(created.id, client.id, day, DayStatus.MISSED, None, None)
            # The client opened it at this very moment: decide on the stored row.
        # Locked, so a submit being saved right now finishes first and is never overwritten.
        current = await uow.checkins.for_day(client.id, day, lock=True)
        if current is None or current.status not in ASKED:
            return None
        await uow.checkins.save(current.id, status=DayStatus.MISSED)
        if client.telegram_id is not None:
            # A deferred ("Later") prompt or a reminder still queued for the closed day
            # would only lead to "this check-in is closed".
            await uow.outbox.cancel_pending(chat_id=client.telegram_id, kind="prompt",
                                            status="expired")
        return ScheduledDay(current.id, client.id, day, DayStatus.MISSED, current.prompted_at,
                            current.reminded_at)

    async def remind(self, uow: UnitOfWork, client: Client, day: date) -> bool:
        """Once per day, a reminder of a check-in not started or not finished."""
        now = self._clock.now()
        current = await uow.checkins.for_day(client.id, day, lock=True)
        if (current is None or current.status not in ASKED
                or current.reminded_at is not None or client.telegram_id is None):
            return False
        params = reminder_params(client, day, started=current.status == DayStatus.IN_PROGRESS)
        # kind "prompt": a submit cancels a reminder that is still queued.
        queued = await uow.outbox.add(
            chat_id=client.telegram_id, kind="prompt", method="sendMessage", params=params,
            now=now, client_id=client.id, dedupe_key=f"reminder:{client.id}:{day.isoformat()}",
            useful_until=self.closes_at(client, day))
        await uow.checkins.save(current.id, reminded_at=now)
        return queued is not None

    # -- prompt and later ----------------------------------------------------------------
    async def prompt(self, uow: UnitOfWork, client: Client, *, day: date | None = None) -> bool:
        """Queue today's "time for your check-in" message (once per client and day).

        The scheduler calls this at the client's check-in time; after downtime it passes the
        local `day` to catch up on (still open past midnight). Returns False when that day's
        prompt was queued before or the check-in is already done."""
        if client.telegram_id is None:
            return False
        day = day or self.today(client)
        checkin = await uow.checkins.for_day(client.id, day, lock=True)
        if checkin is None:
            checkin, _ = await self._create(uow, client, day, DayStatus.PROMPTED)
        elif checkin.status in OVER:
            return False
        queued = await uow.outbox.add(
            chat_id=client.telegram_id, kind="prompt", method="sendMessage",
            params=prompt_params(client, day), now=self._clock.now(),
            client_id=client.id, dedupe_key=f"prompt:{client.id}:{day.isoformat()}",
            useful_until=self.closes_at(client, day))
        if queued is not None and checkin.prompted_at is None:
            await uow.checkins.save(checkin.id, prompted_at=self._clock.now())
        return queued is not None

    async def prompt_many(self, uow: UnitOfWork, days: Sequence[tuple[Client, date]]
                          ) -> set[tuple[str, date]]:
        """`prompt` for many clients whose day has no check-in row yet, in a few statements:
        the scheduler's fan-out when a whole program is due at one minute. Returns the
        (client id, day) pairs prompted; a day the client opened meanwhile is theirs already
        and is left as it is."""
        wanted = [(client, day) for client, day in days if client.telegram_id is not None]
        now = self._clock.now()
        created = await uow.checkins.create_prompted(
            [(client.id, day) for client, day in wanted], questionnaire_id=self._q.id,
            questionnaire_version=str(self._q.version),
            item_ids=[item.id for item in self._q.items], now=now)
        messages = [
            NewMessage(chat_id=client.telegram_id, kind="prompt", method="sendMessage",
                       params=prompt_params(client, day), client_id=client.id,
                       dedupe_key=f"prompt:{client.id}:{day.isoformat()}",
                       useful_until=self.closes_at(client, day))
            for client, day in wanted
            if (client.id, day) in created and client.telegram_id is not None]
        queued = await uow.outbox.add_many(messages, now=now)
        return {(client.id, day) for client, day in wanted
                if f"prompt:{client.id}:{day.isoformat()}" in queued}

    async def later(self, uow: UnitOfWork, client: Client, day: date,
                    prompt_message_id: int) -> Step:
        """"Later" on a prompt: the same prompt again after the program's delay. A prompt
        message defers once, so a double tap queues one reminder."""
        checkin = await uow.checkins.for_day(client.id, day)
        if not self.is_open(client, day) or (checkin is not None
                                             and checkin.status in OVER):
            return Step(notice=CLOSED)
        assert client.telegram_id is not None
        now = self._clock.now()
        await uow.outbox.add(
            chat_id=client.telegram_id, kind="prompt", method="sendMessage",
            params=prompt_params(client, day), now=now, due=now + self._later,
            client_id=client.id,
            dedupe_key=f"later:{client.id}:{day.isoformat()}:{prompt_message_id}",
            useful_until=self.closes_at(client, day))
        if checkin is not None:
            await uow.checkins.save(checkin.id, reminded_at=now)
        return Step(edit=prompt_message_id,
                    later_minutes=int(self._later.total_seconds() // 60))

    # -- starting and resuming -----------------------------------------------------------
    async def start_or_continue(self, uow: UnitOfWork, client: Client, *,
                                day: date | None = None,
                                message_id: int | None = None) -> Step:
        """/checkin (no message) or the prompt's Start button (its message is reused).

        Creates the day's check-in or resumes it exactly where the client stopped."""
        if day is None:
            day = await self.current_day(uow, client)
        elif not self.is_open(client, day):
            return Step(notice=CLOSED)
        checkin = await uow.checkins.for_day(client.id, day, lock=True)
        if checkin is None:
            if day != self.today(client):  # an earlier day is never opened afresh
                return Step(notice=CLOSED)
            checkin, _ = await self._create(uow, client, day, DayStatus.IN_PROGRESS)
        if checkin.status == DayStatus.SUBMITTED:
            return Step(checkin_id=checkin.id, notice=ALREADY_DONE)
        if checkin.status == DayStatus.MISSED:
            return Step(checkin_id=checkin.id, notice=CLOSED)
        await self._take_typing_from_journal(uow, client)
        now = self._clock.now()
        values: dict[str, Any] = {}
        if checkin.state is None:
            stored = Stored(1, flow.start(self._q))
            values.update(state=stored.to_data(), status=DayStatus.IN_PROGRESS, started_at=now)
        else:
            stored = Stored.from_data(checkin.state)
            self._check_version(stored)
            if stored.mode == "change":  # a restart of the list shows the summary again
                stored = stored.next(stored.state)
                values["state"] = stored.to_data()
        retire = checkin.message_id if checkin.message_id != message_id else None
        if message_id is not None:
            values["message_id"] = message_id
        if values:
            checkin = await uow.checkins.save(checkin.id, **values)
        view = view_of(self._q, client.language, checkin.local_date, stored,
                       await self._plan(uow, client))
        return Step(checkin_id=checkin.id, view=view, edit=message_id, retire=retire)

    def remember_message(self, checkin_id: str) -> SentHook:
        """A hook for a freshly sent check-in message: records its id once it is sent.

        It runs after the update's transaction committed, so it has its own."""
        async def hook(message_id: int) -> None:
            async with self._store.transaction() as uow:
                await uow.checkins.save(checkin_id, message_id=message_id)

        return hook

    # -- button actions ------------------------------------------------------------------
    async def answer(self, uow: UnitOfWork, client: Client, day: date, version: int,
                     value: int, *, message_id: int | None = None) -> Step:
        """A choice (by option position), a scale point, or yes (1) / no (0)."""
        return await self._act(uow, client, day, version, message_id,
                               lambda o: self._answer_button(o, value))

    async def toggle(self, uow: UnitOfWork, client: Client, day: date, version: int,
                     value: int, *, message_id: int | None = None) -> Step:
        def change(o: _Open) -> Stored:
            item = self._current(o)
            options = options_for(item, o.plan)
            if not 0 <= value < len(options):
                raise InvalidAnswer(item.id, flow.UNKNOWN_OPTION)
            state = flow.toggle(self._q, o.stored.state, item.id, options[value].key,
                                plan_options=o.plan)
            return o.stored.next(state)

        return await self._act(uow, client, day, version, message_id, change, answered=False)

    async def confirm(self, uow: UnitOfWork, client: Client, day: date, version: int, *,
                      message_id: int | None = None) -> Step:
        """Done on a multi-select (the ticked options are the answer), or "Keep my answer"
        on a free-text item the client came back to."""
        def done(o: _Open) -> Stored:
            item = self._current(o)
            state = o.stored.state
            if item.kind == "text":
                kept = state.answers.get(item.id)
                if not isinstance(kept, str):
                    raise InvalidAnswer(item.id, flow.WRONG_TYPE)
                return o.stored.next(flow.answer(self._q, state, item.id, kept))
            return o.stored.next(flow.confirm(self._q, state, item.id, plan_options=o.plan))

        return await self._act(uow, client, day, version, message_id, done)

    async def skip(self, uow: UnitOfWork, client: Client, day: date, version: int, *,
                   message_id: int | None = None) -> Step:
        return await self._act(uow, client, day, version, message_id, lambda o: o.stored.next(
            flow.skip(self._q, o.stored.state, self._current(o).id)))

    async def back(self, uow: UnitOfWork, client: Client, day: date, version: int, *,
                   message_id: int | None = None) -> Step:
        def change(o: _Open) -> Stored:
            if o.stored.mode == "change":
                return o.stored.next(o.stored.state)  # the list's Back returns to the summary
            return o.stored.next(flow.back(self._q, o.stored.state,
                                           from_item=o.stored.state.current))

        return await self._act(uow, client, day, version, message_id, change, answered=False)

    async def change(self, uow: UnitOfWork, client: Client, day: date, version: int, *,
                     message_id: int | None = None) -> Step:
        """"Change an answer" on the summary: list the answered items to pick from."""
        def to_list(o: _Open) -> Stored:
            if o.stored.state.current is not None:
                raise flow.OutOfOrder("summary", o.stored.state.current)
            return o.stored.next(o.stored.state, "change")

        return await self._act(uow, client, day, version, message_id, to_list, answered=False)

    async def pick(self, uow: UnitOfWork, client: Client, day: date, version: int,
                   position: int, *, message_id: int | None = None) -> Step:
        """An item picked from the change list; after its answer the summary returns."""
        def go(o: _Open) -> Stored:
            if o.stored.mode != "change" or not 0 <= position < len(self._q.items):
                raise flow.OutOfOrder("change", o.stored.state.current)
            item_id = self._q.items[position].id
            return o.stored.next(flow.go_to(self._q, o.stored.state, item_id))

        return await self._act(uow, client, day, version, message_id, go, answered=False)

    async def to_summary(self, uow: UnitOfWork, client: Client, day: date, version: int, *,
                         message_id: int | None = None) -> Step:
        """Back from the change list to the summary."""
        return await self.back(uow, client, day, version, message_id=message_id)

    async def submit(self, uow: UnitOfWork, client: Client, day: date, version: int, *,
                     message_id: int | None = None) -> Step:
        opened = await self._open(uow, client, day, version)
        if isinstance(opened, Step):
            return opened
        state = opened.stored.state
        if opened.stored.mode != "flow" or not flow.is_complete(self._q, state):
            return Step(checkin_id=opened.checkin.id, notice=NOT_FINISHED)
        now = self._clock.now()
        checkin = opened.checkin
        await self._alerts.on_submit(uow, client, checkin, state.answers)
        stored = opened.stored.next(state)
        values: dict[str, Any] = {"status": DayStatus.SUBMITTED, "submitted_at": now}
        if message_id is not None:
            values["message_id"] = message_id
        await uow.checkins.save(checkin.id, state=stored.to_data(), **values)
        if client.telegram_id is not None:  # a "Later" reminder still queued is not needed
            await uow.outbox.cancel_pending(chat_id=client.telegram_id, kind="prompt")
        await uow.audit(at=now, actor=f"client:{client.code}", action="checkin.submit",
                        client_id=client.id, detail=f"check-in {checkin.id}")
        uow.after_commit(lambda: telemetry.count("checkins_completed"))
        if self._phases is not None:
            await self._phases.after_checkin(uow, client)
        view = CheckInView(day=day, version=stored.version, language=client.language,
                           screen="done", title=self._q.title.get(client.language),
                           streak=await self.streak(uow, client, day))
        return Step(checkin_id=checkin.id, view=view, edit=message_id)

    # -- typed answers -------------------------------------------------------------------
    async def _take_typing_from_journal(self, uow: UnitOfWork, client: Client) -> None:
        """The person's latest intent wins: opening the check-in sets an open journal entry
        aside (its draft stays sealed; /journal reopens it), so typing answers the check-in."""
        if client.telegram_id is None:
            return
        conversation = await uow.conversations.get(client.telegram_id)
        if conversation is not None and conversation.state == JOURNAL_STATE:
            await uow.conversations.clear(client.telegram_id)

    async def showing_buttons(self, uow: UnitOfWork, client: Client) -> bool:
        """Whether today's check-in is open on an item answered with buttons and nothing
        else has the typing (no journal entry, no other conversation)."""
        stored = await self._typing_target(uow, client)
        if stored is None:
            return False
        current = stored.state.current
        return current is None or (self._q.has_item(current)
                                   and self._q.item(current).kind != "text")

    async def awaiting_text(self, uow: UnitOfWork, client: Client) -> bool:
        """Whether today's check-in is showing a free-text item (so a typed message is
        its answer)."""
        stored = await self._typing_target(uow, client)
        current = stored.state.current if stored is not None else None
        return (stored is not None and stored.mode == "flow" and current is not None
                and self._q.has_item(current) and self._q.item(current).kind == "text")

    async def _typing_target(self, uow: UnitOfWork, client: Client) -> Stored | None:
        """The check-in in progress that typing may reach, read from the database (nothing
        about a check-in lives in memory); None when there is none, or when a conversation
        the person opened since (a journal entry, a new check-in time) has the typing."""
        if client.telegram_id is not None and await uow.conversations.get(client.telegram_id):
            return None
        # Locked as answer_text reads it next, so that read is not made again.
        checkin = await uow.checkins.for_day(client.id, await self.current_day(uow, client),
                                             lock=True)
        if checkin is None or checkin.status != DayStatus.IN_PROGRESS or checkin.state is None:
            return None
        return Stored.from_data(checkin.state)

    async def answer_text(self, uow: UnitOfWork, client: Client, text: str) -> Step:
        """A typed message as the answer to the free-text item being shown."""
        day = await self.current_day(uow, client)
        checkin = await uow.checkins.for_day(client.id, day, lock=True)
        if checkin is None or checkin.state is None or checkin.status != DayStatus.IN_PROGRESS:
            return Step(notice=CLOSED)
        version = Stored.from_data(checkin.state).version

        def change(o: _Open) -> Stored:
            item = self._current(o)
            if item.kind != "text":
                raise InvalidAnswer(item.id, flow.WRONG_TYPE)
            try:
                state = flow.answer(self._q, o.stored.state, item.id, text)
            except InvalidAnswer as error:
                if error.reason == flow.TOO_LONG:
                    raise TextTooLong(f"item {item.id}: over {item.max_length}") from None
                raise InvalidInput(f"item {item.id}: {error.reason}") from None
            return o.stored.next(state)

        step = await self._act(uow, client, day, version, None, change)
        if step.view is not None and not step.crisis:
            # Typed answers arrive as messages: the check-in message is edited where it is.
            step = Step(checkin_id=step.checkin_id, view=step.view,
                        edit=checkin.message_id, crisis=step.crisis,
                        clinician_contact=step.clinician_contact)
        return step

    # -- the streak ----------------------------------------------------------------------
    async def streak(self, uow: UnitOfWork, client: Client, day: date) -> int:
        """Consecutive submitted days ending with `day`."""
        statuses = await uow.checkins.statuses(
            client.id, since=day - timedelta(days=STREAK_LOOKBACK))
        return streak_ending(statuses, day)

    # -- internals -----------------------------------------------------------------------
    def _check_version(self, stored: Stored) -> None:
        flow.check_questionnaire(self._q, stored.state)  # QuestionnaireChanged, said kindly

    async def _plan(self, uow: UnitOfWork, client: Client) -> tuple[str, ...]:
        return (await uow.plans.get(client.id)).coping_steps

    async def _open(self, uow: UnitOfWork, client: Client, day: date,
                    version: int) -> _Open | Step:
        """Today's open check-in at exactly this version, or the notice for a stale button."""
        checkin = await uow.checkins.for_day(client.id, day, lock=True)
        if (checkin is None or checkin.state is None or not self.is_open(client, day)
                or checkin.status in OVER):
            return Step(checkin_id=checkin.id if checkin else None, notice=CLOSED)
        stored = Stored.from_data(checkin.state)
        if stored.version != version:
            return Step(checkin_id=checkin.id, notice=ALREADY_SAVED)
        self._check_version(stored)
        return _Open(checkin, stored, await self._plan(uow, client))

    def _current(self, opened: _Open) -> Item:
        current = opened.stored.state.current
        if current is None or opened.stored.mode != "flow":
            raise flow.OutOfOrder("?", current)
        return self._q.item(current)

    def _answer_button(self, opened: _Open, value: int) -> Stored:
        item = self._current(opened)
        return opened.stored.next(flow.answer(self._q, opened.stored.state, item.id,
                                              flow.button_answer(item, value),
                                              plan_options=opened.plan))

    async def _act(self, uow: UnitOfWork, client: Client, day: date, version: int,
                   message_id: int | None, change: Callable[[_Open], Stored], *,
                   answered: bool = True) -> Step:
        opened = await self._open(uow, client, day, version)
        if isinstance(opened, Step):
            return opened
        before = opened.stored.state
        try:
            stored = change(opened)
        except QuestionnaireChanged:
            raise
        except CheckInError:
            # A button that does not fit the state it claims (forged or from a changed
            # plan): nothing changes; the client gets the current screen again.
            return Step(checkin_id=opened.checkin.id, notice=ALREADY_SAVED)
        values: dict[str, Any] = {"state": stored.to_data()}
        retire = None
        if message_id is not None and message_id != opened.checkin.message_id:
            values["message_id"] = message_id
            retire = opened.checkin.message_id
        checkin = await uow.checkins.save(opened.checkin.id, **values)
        crisis = False
        if answered and before.current is not None:
            crisis = await self._alerts.on_answer(uow, client, checkin.id, before.current,
                                                  stored.state.answers)
        view = view_of(self._q, client.language, checkin.local_date, stored, opened.plan)
        if crisis:
            # The resources come first, as their own message; the check-in moves below them.
            clinician = await uow.clinicians.get(client.clinician_id)
            return Step(checkin_id=checkin.id, view=view, crisis=True,
                        retire=message_id or checkin.message_id,
                        clinician_contact=clinician.contact if clinician else "")
        return Step(checkin_id=checkin.id, view=view, edit=message_id, retire=retire)


__all__: Sequence[str] = ("CheckInService", "TextTooLong")
