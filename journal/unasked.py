"""Every text a client receives without asking for it, in one place.

A prompt, a reminder or a notice can light up a locked phone, where anyone nearby reads its
first line. So each one opens with a line that names neither the treatment nor the offence
(no "therapy", "relapse", "clinician", "plan", "risk"...): tests/test_unasked_texts.py
checks every text here, in every language, against that word list. A new message sent to
a client unasked belongs in UNASKED_TEXTS."""

from __future__ import annotations

from typing import Final

from journal import appointments, homework, sharing
from journal.checkin.messages import PROMPT_TEXT, REMINDER_UNFINISHED, REMINDER_WAITING
from journal.checkin.schedule import RESUMED, SCHEDULE_CHANGED
from journal.discharge import CLIENT_DISCHARGE_NOTICE
from journal.phases.service import CLIENT_DOWN, CLIENT_UP
from journal.review.plan import CLIENT_PLAN_NOTICE, NOTICE_FIRST_LINE

UNASKED_TEXTS: Final = (PROMPT_TEXT, REMINDER_WAITING, REMINDER_UNFINISHED, CLIENT_PLAN_NOTICE,
                        SCHEDULE_CHANGED, RESUMED, CLIENT_DISCHARGE_NOTICE, NOTICE_FIRST_LINE,
                        appointments.NEW_TEXT, appointments.REMINDER_TEXT, homework.NEW_TEXT,
                        homework.REMINDER_TEXT, CLIENT_DOWN, CLIENT_UP, sharing.PROPOSAL)


def first_line(text: str) -> str:
    """What a lock screen's preview shows first."""
    return text.strip().split("\n", 1)[0]


__all__ = ["UNASKED_TEXTS", "first_line"]
