"""Typed callback data. Every payload fits Telegram's 64 bytes and carries no health detail.

render_buttons() draws the buttons the domain queues as plain values (journal.buttons), so
each callback's wire format is written here only."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Final

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from journal import buttons

# AlertCb actions.
DETAILS: Final = "details"
ACKNOWLEDGE: Final = "ack"
SKIP_NOTE: Final = "skipnote"


class EnrolCb(CallbackData, prefix="en"):
    action: str  # agree | decline | more | consent_lang | language | tz | time
    value: str = ""


class AlertCb(CallbackData, prefix="al"):
    """al:<action>:<alert id>."""

    action: str  # DETAILS | ACKNOWLEDGE | SKIP_NOTE
    alert_id: str


class JournalCb(CallbackData, prefix="jr"):
    """jr:<action>:<entry id>; the id makes a button of a closed entry recognisably stale."""

    action: str  # done | cancel | discard | keep
    entry: str


class MyDataCb(CallbackData, prefix="md"):
    """md:<action>: yes (send my copy) | no."""

    action: str


class LanguageCb(CallbackData, prefix="cl"):
    language: str  # en | es


class TimeCb(CallbackData, prefix="ct"):
    value: str  # HHMM, or "keep"


# What a check-in button asks for (CheckInCb.action). One letter keeps the payload inside
# Telegram's 64 bytes; buttons already in clients' chats carry these letters, so a letter
# never changes meaning. Only bot/ reads them: the domain's buttons are journal.buttons.
START, LATER = "s", "l"  # open today's check-in / ask again in a while
ANSWER, TOGGLE, DONE = "a", "t", "d"  # choose an option / tick one of many / finish ticking
SKIP, BACK = "k", "b"  # leave an item unanswered / the previous item
CHANGE, PICK, SUMMARY, SUBMIT = "c", "p", "m", "u"  # from the summary: change, which item,
# back to the summary, send it all


def day_code(day: date) -> int:
    """A check-in's local date as CheckInCb carries it: yyyymmdd."""
    return int(day.strftime("%Y%m%d"))


def day_from_code(code: int) -> date | None:
    try:
        return date(code // 10000, code // 100 % 100, code % 100)
    except ValueError:
        return None


class CheckInCb(CallbackData, prefix="ck"):
    """ck:<action>:<yyyymmdd>:<v>:<n>.

    `day` is the check-in's local date and `v` the version of the state the button was
    drawn for, so a button of an old or finished check-in, or a second tap, is recognised
    and changes nothing. `n` is an option's position, a scale point, yes 1 / no 0, or an
    item's position: never an answer's words."""

    action: str  # START | LATER | ANSWER | TOGGLE | DONE | SKIP | BACK | CHANGE | PICK |
    # SUMMARY | SUBMIT, above
    day: int
    v: int = 0
    n: int = 0

    @classmethod
    def packed(cls, action: str, day: int, v: int = 0, n: int = 0) -> str:
        """`CheckInCb(action=..., day=..., v=..., n=...).pack()`, written out: a check-in
        screen draws a dozen buttons on every press, and building and dumping a model for
        each cost more than the rest of the drawing. The action is one of the letters
        above and the rest are numbers, so no part holds the separator."""
        return cls.__separator__.join((cls.__prefix__, action, str(day), str(v), str(n)))


class ReviewCb(CallbackData, prefix="rv"):
    """rv:<action>:<client code>[:<page>]. Only the pseudonymous code and a number: every
    press is checked against the presser's caseload again, so a forged code learns nothing."""

    action: str  # summary | history | report | plan
    code: str
    page: int = 0


class PlanCb(CallbackData, prefix="pl"):
    """pl:<action>[:<part>]: a client's buttons on their plan (suggest, part, now, cancel).
    Only a part's id, never an item's words."""

    action: str
    part: str = ""


class SuggestionCb(CallbackData, prefix="ps"):
    """ps:<accept|edit|decline>:<suggestion id>: checked against the presser's caseload."""

    action: str
    id: str


class HelpNowCb(CallbackData, prefix="hn"):
    """hn:<tell|outcome>:<moment id>:<answer key>."""

    action: str
    moment: str
    answer: str


class DischargeCb(CallbackData, prefix="dc"):
    action: str  # confirm | cancel
    code: str


class SharingCb(CallbackData, prefix="sh"):
    """sh:<action>:<agreement id>[:<officer telegram id>]. The client's agree, decline and
    withdraw; a clinician's choice of officer for /team (by the client's code)."""

    action: str  # agree | decline | withdraw | ledger | pdf | propose | received | report
    agreement: str = ""  # an agreement id, or for propose the client's code
    officer: int = 0
class AppointmentCb(CallbackData, prefix="ap"):
    """ap:<action>:<appointment id>; action y (will come), n (cannot come), or for staff an
    attendance mark's letter (a attended, l late, e excused, x no-show)."""

    action: str
    appointment: str


# AppointmentCb's attendance letters and the marks they stand for.
ATTENDANCE_LETTERS: Final[Mapping[str, str]] = {
    "a": "attended", "l": "late", "e": "excused", "x": "no_show"}


class HomeworkCb(CallbackData, prefix="hw"):
    """hw:<action>:<homework id>; action s (answer: open it), d (hand it in), p (save the
    draft and close it for now)."""

    action: str
    homework: str


def _attendance(values: Mapping[str, str]) -> CallbackData:
    letter = next(k for k, v in ATTENDANCE_LETTERS.items() if v == values["mark"])
    return AppointmentCb(action=letter, appointment=values["appointment"])


def _checkin(action: str) -> Callable[[Mapping[str, str]], CallbackData]:
    return lambda values: CheckInCb(action=action, day=day_code(date.fromisoformat(values["day"])))


def _alert(action: str) -> Callable[[Mapping[str, str]], CallbackData]:
    return lambda values: AlertCb(action=action, alert_id=values["alert"])


# Every domain button action and the callback data its press brings back.
BUTTON_CALLBACKS: Final[Mapping[str, Callable[[Mapping[str, str]], CallbackData]]] = {
    buttons.CHECKIN_START: _checkin(START),
    buttons.CHECKIN_LATER: _checkin(LATER),
    buttons.ALERT_DETAILS: _alert(DETAILS),
    buttons.ALERT_ACK: _alert(ACKNOWLEDGE),
    buttons.SHARING_AGREE: lambda values: SharingCb(action="agree",
                                                    agreement=values["agreement"]),
    buttons.SHARING_DECLINE: lambda values: SharingCb(action="decline",
                                                      agreement=values["agreement"]),
    buttons.PROGRESS_ACK: lambda values: SharingCb(action="received", agreement=values["report"]),
    buttons.PROGRESS_PDF: lambda values: SharingCb(action="report", agreement=values["report"]),
    buttons.APPOINTMENT_CONFIRM: lambda v: AppointmentCb(action="y", appointment=v["appointment"]),
    buttons.APPOINTMENT_DECLINE: lambda v: AppointmentCb(action="n", appointment=v["appointment"]),
    buttons.APPOINTMENT_ATTENDANCE: _attendance,
    buttons.HOMEWORK_START: lambda v: HomeworkCb(action="s", homework=v["homework"]),
}


def render_buttons(rows: Sequence[Sequence[Mapping[str, str]]]) -> InlineKeyboardMarkup:
    """Telegram's markup for an outbox row's params["buttons"] (journal.buttons.rows_data)."""
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=button["label"],
                              callback_data=BUTTON_CALLBACKS[button["action"]](button).pack())
         for button in row]
        for row in rows])
