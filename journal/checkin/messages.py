"""The check-in's messages queued outside the check-in itself: the prompt and the reminder,
with their buttons as plain values (journal.buttons) that bot/ draws."""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from journal.buttons import CHECKIN_LATER, CHECKIN_START, Button, rows_data
from journal.i18n import N_, gettext_for
from storage.records import Client

PROMPT_TEXT: Final = N_("Time for your check-in. It takes about two minutes.")
START_LABEL: Final = N_("Start check-in")
LATER_LABEL: Final = N_("Later")
REMINDER_WAITING: Final = N_("Your check-in for today is still waiting for you. It takes about "
                             "two minutes.")
REMINDER_UNFINISHED: Final = N_("Your check-in for today is not finished yet. You can go on "
                                "where you stopped.")
CONTINUE_LABEL: Final = N_("Continue check-in")


def prompt_params(client: Client, day: date) -> dict[str, Any]:
    """The "time for your check-in" message, with Start and Later."""
    def t(text: str) -> str:
        return gettext_for(client.language, text)

    return {"text": t(PROMPT_TEXT), "buttons": rows_data([[
        Button(CHECKIN_START, t(START_LABEL), day=day.isoformat()),
        Button(CHECKIN_LATER, t(LATER_LABEL), day=day.isoformat())]])}


def reminder_params(client: Client, day: date, *, started: bool) -> dict[str, Any]:
    """The reminder of a check-in not started, or started and not finished."""
    def t(text: str) -> str:
        return gettext_for(client.language, text)

    params = {
        "text": t(REMINDER_UNFINISHED if started else REMINDER_WAITING),
        "buttons": rows_data([[Button(
            CHECKIN_START, t(CONTINUE_LABEL if started else START_LABEL),
            day=day.isoformat())]]),
    }
    return params


__all__ = ["CONTINUE_LABEL", "LATER_LABEL", "PROMPT_TEXT", "REMINDER_UNFINISHED",
           "REMINDER_WAITING", "START_LABEL", "prompt_params", "reminder_params"]
