"""The plan written together, and help between check-ins: a client suggests an item for a
part of their plan and their clinician accepts, edits or declines it; a client at risk now
(/now) sees their own steps, chooses whether their clinician is told, and is asked a few
minutes later how it went. Every text stays sealed; no notification carries plan text."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from journal.alerts.rules import Finding
from journal.clock import Clock
from journal.errors import InvalidInput, NotFound
from journal.i18n import N_, gettext_for
from journal.people import actor_of, visible_client
from journal.review.plan import (
    ACCEPTED_REASON,
    NOTICE_FIRST_LINE,
    editable,
    parts,
    save_plan,
    with_parts,
)
from storage.records import Client, Clinician, HelpMoment, Plan, PlanItem, PlanSuggestion

if TYPE_CHECKING:
    from journal.alerts.service import AlertService
    from storage.uow import UnitOfWork

SUGGEST_STATE: Final = "plan_suggest"
SUGGEST_MINUTES: Final = 15  # the suggested text is awaited this long
EDIT_SUGGESTION_STATE: Final = "plan_suggestion_edit"
# Parts a client may suggest to (the cycle's sign lands in no stage: the clinician places it).
SUGGESTABLE: Final = ("cycle", "situations", "coping", "support", "goals", "at_risk")
FOLLOW_UP_MINUTES: Final = 10
OUTCOMES: Final = ("better", "same", "worse")

STAFF_SUGGESTION_NOTICE: Final = N_(
    "Client {code} suggested something for their plan. Open it with /plan {code}.")
CLIENT_DECLINED: Final = N_(
    "Your clinician read your suggestion and kept your plan as it is for now. You can talk "
    "about it at your next session.")
FOLLOW_UP_QUESTION: Final = N_("How are you now, compared with a few minutes ago?")


class SuggestionError(InvalidInput):
    key = "plan.suggestion"


@dataclass(frozen=True, slots=True)
class HelpNow:
    moment_id: str
    plan: Plan


class PlanTogether:
    def __init__(self, *, clock: Clock, alerts: AlertService) -> None:
        self._clock = clock
        self._alerts = alerts

    # -- a client suggesting ----------------------------------------------------------
    async def start_suggestion(self, uow: UnitOfWork, client: Client, part: str) -> None:
        """The client chose a part: their next message is the item they suggest."""
        if part not in SUGGESTABLE or part not in parts().parts:
            raise SuggestionError("no such part to suggest to")
        assert client.telegram_id is not None
        await uow.conversations.set(client.telegram_id, SUGGEST_STATE, {"part": part},
                                    self._clock.now())

    async def waiting_part(self, uow: UnitOfWork, client: Client) -> str | None:
        if client.telegram_id is None:
            return None
        conversation = await uow.conversations.get(client.telegram_id)
        if conversation is None or conversation.state != SUGGEST_STATE:
            return None
        if self._clock.now() - conversation.updated_at > timedelta(minutes=SUGGEST_MINUTES):
            await uow.conversations.clear(client.telegram_id)
            return None
        return str(conversation.data.get("part", ""))

    async def suggest(self, uow: UnitOfWork, client: Client, text: str) -> str:
        """Keep the suggested text sealed and tell the clinician, naming only the code.
        Text too long or empty raises, and the client is asked again (nothing kept)."""
        part = await self.waiting_part(uow, client)
        if part is None:
            raise SuggestionError("no suggestion is awaited")
        text = " ".join(text.split())
        if not text or len(text) > parts().max_length:
            raise SuggestionError("a suggestion empty or too long")
        now = self._clock.now()
        suggestion_id = await uow.plans.suggest(client.id, part, text, now=now)
        assert client.telegram_id is not None
        await uow.conversations.clear(client.telegram_id)
        clinician = await uow.clinicians.get(client.clinician_id)
        if clinician is not None:
            language = self._alerts.locale_of(clinician).language
            await uow.outbox.add(
                chat_id=clinician.telegram_id, kind="notice", method="sendMessage",
                params={"text": gettext_for(language, STAFF_SUGGESTION_NOTICE).format(
                    code=client.code)}, now=now)
        await uow.audit(at=now, actor=f"client:{client.id}", action="plan.suggest",
                        client_id=client.id, detail=f"client {client.code}")
        return suggestion_id

    # -- a clinician deciding ---------------------------------------------------------
    async def open_suggestions(self, uow: UnitOfWork, clinician: Clinician, code: str
                               ) -> tuple[Client, list[PlanSuggestion]]:
        client = await visible_client(uow, clinician, code)
        return client, await uow.plans.suggestions(client.id)

    async def _own(self, uow: UnitOfWork, clinician: Clinician, suggestion_id: str
                   ) -> tuple[Client, PlanSuggestion]:
        """The open suggestion, if the clinician may see its client: anything else is
        "not found", as for a code that does not exist."""
        suggestion = await uow.plans.suggestion(suggestion_id)
        client = None if suggestion is None else await uow.clients.get(suggestion.client_id)
        if suggestion is None or client is None or suggestion.status != "open":
            raise NotFound("no such suggestion", key="client.not_found")
        await visible_client(uow, clinician, client.code)
        return client, suggestion

    async def accept(self, uow: UnitOfWork, clinician: Clinician, suggestion_id: str, *,
                     text: str | None = None) -> tuple[Client, Plan]:
        """Add the suggested item (or the clinician's edit of it) to its part, as the
        plan's next version; the client is told their plan changed."""
        client, suggestion = await self._own(uow, clinician, suggestion_id)
        item_text = " ".join((suggestion.text if text is None else text).split())
        config = parts()
        if not item_text or len(item_text) > config.max_length:
            raise SuggestionError("an edited suggestion empty or too long")
        plan = await uow.plans.get(client.id)
        items = plan.items(suggestion.part)
        if item_text.casefold() not in {i.text.casefold() for i in items}:
            if len(items) >= config.limit(suggestion.part):
                raise SuggestionError("the part is full")
            items = (*items, PlanItem(item_text))
        now = self._clock.now()
        saved = await save_plan(uow, clinician, client,
                                with_parts(plan, {suggestion.part: items}), now=now,
                                reason=gettext_for(client.language, ACCEPTED_REASON))
        await uow.plans.decide(suggestion.id, "accepted", by=clinician.id, now=now)
        return client, saved

    async def decline(self, uow: UnitOfWork, clinician: Clinician, suggestion_id: str
                      ) -> Client:
        client, suggestion = await self._own(uow, clinician, suggestion_id)
        now = self._clock.now()
        if not editable(client):
            raise NotFound("no such suggestion", key="client.not_found")
        await uow.plans.decide(suggestion.id, "declined", by=clinician.id, now=now)
        await uow.audit(at=now, actor=actor_of(clinician), action="plan.decline",
                        client_id=client.id, detail=f"client {client.code}")
        if client.telegram_id is not None:
            await uow.outbox.add(
                chat_id=client.telegram_id, kind="notice", method="sendMessage",
                params={"text": gettext_for(client.language, NOTICE_FIRST_LINE) + "\n"
                        + gettext_for(client.language, CLIENT_DECLINED)}, now=now,
                client_id=client.id)
        return client

    async def start_edit(self, uow: UnitOfWork, clinician: Clinician, suggestion_id: str
                         ) -> Client:
        """The clinician's next message is the suggestion as they would word it."""
        client, suggestion = await self._own(uow, clinician, suggestion_id)
        await uow.conversations.set(clinician.telegram_id, EDIT_SUGGESTION_STATE,
                                    {"suggestion": suggestion.id}, self._clock.now())
        return client

    async def edit_reply(self, uow: UnitOfWork, clinician: Clinician, text: str
                         ) -> tuple[Client, Plan] | None:
        conversation = await uow.conversations.get(clinician.telegram_id)
        if conversation is None or conversation.state != EDIT_SUGGESTION_STATE:
            return None
        await uow.conversations.clear(clinician.telegram_id)
        if self._clock.now() - conversation.updated_at > timedelta(minutes=SUGGEST_MINUTES):
            return None
        return await self.accept(uow, clinician, str(conversation.data.get("suggestion")),
                                 text=text)

    # -- help now ---------------------------------------------------------------------
    async def help_now(self, uow: UnitOfWork, client: Client) -> HelpNow:
        """The moment is kept (sealed); the plan's own steps are what the client sees."""
        now = self._clock.now()
        moment_id = await uow.plans.add_moment(client.id, now=now)
        await uow.audit(at=now, actor=f"client:{client.id}", action="plan.help_now",
                        client_id=client.id, detail=f"client {client.code}")
        return HelpNow(moment_id, await uow.plans.get(client.id))

    async def _moment(self, uow: UnitOfWork, client: Client, moment_id: str) -> HelpMoment:
        moment = await uow.plans.moment(moment_id)
        if moment is None or moment.client_id != client.id:
            raise NotFound("no such moment", key="plan.moment")
        return moment

    async def tell(self, uow: UnitOfWork, client: Client, moment_id: str, yes: bool,
                   follow_up: dict[str, object]) -> bool:
        """The client's answer to "tell my clinician?": yes raises an alert at the rules
        file's help-now level, once. Either way, the follow-up question is queued for a
        few minutes later (committed with the answer, so a restart does not lose it).
        Returns False when this moment was answered already."""
        moment = await self._moment(uow, client, moment_id)
        if moment.told is not None:
            return False
        await uow.plans.update_moment(moment, told=yes)
        if yes:
            level, reason = self._alerts.rules.help_now
            await self._alerts.raise_alert(
                uow, client, findings=[Finding("help_now", level, reason)], checkin_id=None,
                answers={}, dedupe=f"help-now:{moment.id}")
        now = self._clock.now()
        assert client.telegram_id is not None
        await uow.outbox.add(chat_id=client.telegram_id, kind="notice", method="sendMessage",
                             params=follow_up, now=now, client_id=client.id,
                             due=now + timedelta(minutes=FOLLOW_UP_MINUTES),
                             dedupe_key=f"help-now-follow-up:{moment.id}")
        return True

    async def outcome(self, uow: UnitOfWork, client: Client, moment_id: str,
                      outcome: str) -> bool:
        if outcome not in OUTCOMES:
            raise NotFound("no such answer", key="plan.moment")
        moment = await self._moment(uow, client, moment_id)
        if moment.outcome:
            return False
        await uow.plans.update_moment(replace(moment), outcome=outcome)
        return True


__all__ = ["FOLLOW_UP_MINUTES", "FOLLOW_UP_QUESTION", "OUTCOMES", "SUGGESTABLE", "HelpNow",
           "PlanTogether", "SuggestionError"]
