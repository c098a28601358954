"""Buttons the domain queues with an outbox message, as plain values.

The domain says what a button does and for what (an action and its values, the label
already translated); bot/callbacks.py's render_buttons() turns them into Telegram's
markup and callback data when the row is sent, so the wire format lives in bot/ only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

CHECKIN_START: Final = "checkin.start"
CHECKIN_LATER: Final = "checkin.later"
ALERT_DETAILS: Final = "alert.details"
ALERT_ACK: Final = "alert.ack"
SHARING_AGREE: Final = "sharing.agree"
SHARING_DECLINE: Final = "sharing.decline"
PROGRESS_ACK: Final = "progress.ack"
PROGRESS_PDF: Final = "progress.pdf"
APPOINTMENT_CONFIRM: Final = "appointment.confirm"
APPOINTMENT_DECLINE: Final = "appointment.decline"
APPOINTMENT_ATTENDANCE: Final = "appointment.attendance"
HOMEWORK_START: Final = "homework.start"

# Each action and the values its button carries: ids and dates, never an answer's words.
ACTIONS: Final[Mapping[str, frozenset[str]]] = MappingProxyType({
    CHECKIN_START: frozenset({"day"}),  # the check-in's local date, ISO format
    CHECKIN_LATER: frozenset({"day"}),
    ALERT_DETAILS: frozenset({"alert"}),  # the alert id
    ALERT_ACK: frozenset({"alert"}),
    SHARING_AGREE: frozenset({"agreement"}),  # the sharing agreement's id
    SHARING_DECLINE: frozenset({"agreement"}),
    PROGRESS_ACK: frozenset({"report"}),  # the progress report's id
    PROGRESS_PDF: frozenset({"report"}),
    APPOINTMENT_CONFIRM: frozenset({"appointment"}),  # the appointment id
    APPOINTMENT_DECLINE: frozenset({"appointment"}),
    APPOINTMENT_ATTENDANCE: frozenset({"appointment", "mark"}),  # and attended|late|...
    HOMEWORK_START: frozenset({"homework"}),  # the homework id
})


@dataclass(frozen=True, init=False)
class Button:
    action: str
    label: str
    values: Mapping[str, str]

    def __init__(self, action: str, label: str, **values: str) -> None:
        needed = ACTIONS.get(action)
        if needed is None:
            raise ValueError(f"unknown button action {action!r}")
        if set(values) != needed:
            raise ValueError(f"a {action} button carries {sorted(needed)}, not {sorted(values)}")
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "values", MappingProxyType(dict(values)))

    def to_data(self) -> dict[str, str]:
        return {"action": self.action, "label": self.label, **self.values}


def rows_data(rows: Sequence[Sequence[Button]]) -> list[list[dict[str, str]]]:
    """Rows of buttons as an outbox row's params["buttons"] holds them."""
    return [[button.to_data() for button in row] for row in rows]


__all__ = ["ACTIONS", "ALERT_ACK", "ALERT_DETAILS", "APPOINTMENT_ATTENDANCE",
           "APPOINTMENT_CONFIRM", "APPOINTMENT_DECLINE", "CHECKIN_LATER", "CHECKIN_START",
           "HOMEWORK_START", "PROGRESS_ACK", "PROGRESS_PDF", "SHARING_AGREE", "SHARING_DECLINE",
           "Button", "rows_data"]
