"""Typed callback data. Every payload fits Telegram's 64 bytes and carries no health detail."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class EnrolCb(CallbackData, prefix="en"):
    action: str  # agree | decline | consent_lang | language | tz | time
    value: str = ""


class AlertCb(CallbackData, prefix="al"):
    """Matches journal.alerts.alert_callback(): al:<action>:<alert id>."""

    action: str  # details | ack | skipnote
    alert_id: str


class JournalCb(CallbackData, prefix="jr"):
    """jr:<action>:<entry id>; the id makes a button of a closed entry recognisably stale."""

    action: str  # done | cancel | discard | keep
    entry: str


class LanguageCb(CallbackData, prefix="cl"):
    language: str  # en | es


class TimeCb(CallbackData, prefix="ct"):
    value: str  # HHMM, or "keep"


class CheckInCb(CallbackData, prefix="ck"):
    """Matches journal.checkin.messages.checkin_callback(): ck:<action>:<yyyymmdd>:<v>:<n>.

    `day` is the check-in's local date and `v` the version of the state the button was
    drawn for, so a button of an old or finished check-in, or a second tap, is recognised
    and changes nothing. `n` is an option's position, a scale point, yes 1 / no 0, or an
    item's position: never an answer's words."""

    action: str  # s start | l later | a answer | t toggle | d done | k skip | b back |
    # c change | p pick | m summary | u submit
    day: int
    v: int = 0
    n: int = 0


class ReviewCb(CallbackData, prefix="rv"):
    """rv:<action>:<client code>[:<page>]. Only the pseudonymous code and a number: every
    press is checked against the presser's caseload again, so a forged code learns nothing."""

    action: str  # summary | history | report | plan
    code: str
    page: int = 0


class DischargeCb(CallbackData, prefix="dc"):
    action: str  # confirm | cancel
    code: str
