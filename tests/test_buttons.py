"""Buttons the domain queues are drawn by bot/: a renamed callback breaks these tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, User

from bot import callbacks as ck
from bot.callbacks import (
    ACKNOWLEDGE,
    BUTTON_CALLBACKS,
    DETAILS,
    AlertCb,
    AppointmentCb,
    CheckInCb,
    HomeworkCb,
    render_buttons,
)
from journal import buttons
from journal.alerts.rules_file import load_rules
from journal.alerts.service import AlertService
from journal.buttons import Button, rows_data
from journal.checkin.questionnaire_file import load_questionnaire
from journal.clock import FakeClock

DAY = date(2026, 3, 2)
ALERT_ID = "0f8e4c1e-2b7a-4c59-9a51-3a9d1c6f2e10"
AGREEMENT_ID = "4f2a9c0d1e8b47a6b3c5d7e9f1a2b3c4"
APPOINTMENT_ID = "5b0c6f0e3a0d4a4c9b8f1e2d3c4b5a69"
SAMPLE_VALUES = {"day": DAY.isoformat(), "alert": ALERT_ID, "agreement": AGREEMENT_ID,
                 "report": AGREEMENT_ID, "appointment": APPOINTMENT_ID,
                 "mark": "no_show", "homework": APPOINTMENT_ID}

# What each domain action must come back as when pressed: the class the handler filters on
# and the fields it reads.
EXPECTED: dict[str, tuple[type[CallbackData], dict[str, object]]] = {
    buttons.CHECKIN_START: (CheckInCb, {"action": ck.START, "day": ck.day_code(DAY)}),
    buttons.CHECKIN_LATER: (CheckInCb, {"action": ck.LATER, "day": ck.day_code(DAY)}),
    buttons.ALERT_DETAILS: (AlertCb, {"action": DETAILS, "alert_id": ALERT_ID}),
    buttons.ALERT_ACK: (AlertCb, {"action": ACKNOWLEDGE, "alert_id": ALERT_ID}),
    buttons.SHARING_AGREE: (ck.SharingCb, {"action": "agree", "agreement": AGREEMENT_ID}),
    buttons.SHARING_DECLINE: (ck.SharingCb, {"action": "decline", "agreement": AGREEMENT_ID}),
    buttons.PROGRESS_ACK: (ck.SharingCb, {"action": "received", "agreement": AGREEMENT_ID}),
    buttons.PROGRESS_PDF: (ck.SharingCb, {"action": "report", "agreement": AGREEMENT_ID}),
    buttons.APPOINTMENT_CONFIRM: (AppointmentCb, {"action": "y", "appointment": APPOINTMENT_ID}),
    buttons.APPOINTMENT_DECLINE: (AppointmentCb, {"action": "n", "appointment": APPOINTMENT_ID}),
    buttons.APPOINTMENT_ATTENDANCE: (AppointmentCb, {"action": "x",
                                                     "appointment": APPOINTMENT_ID}),
    buttons.HOMEWORK_START: (HomeworkCb, {"action": "s", "homework": APPOINTMENT_ID}),
}


def sample(action: str, label: str = "Press") -> Button:
    return Button(action, label, **{key: SAMPLE_VALUES[key] for key in buttons.ACTIONS[action]})


def query(data: str) -> CallbackQuery:
    return CallbackQuery(id="1", from_user=User(id=7001, is_bot=False, first_name="Lane"),
                         chat_instance="c", data=data)


def test_every_domain_action_has_a_callback_and_the_bot_knows_no_other() -> None:
    assert set(BUTTON_CALLBACKS) == set(buttons.ACTIONS) == set(EXPECTED)


@pytest.mark.parametrize("action", sorted(buttons.ACTIONS))
async def test_a_pressed_domain_button_reaches_its_handler_with_its_values(action: str) -> None:
    markup = render_buttons(rows_data([[sample(action, "Start check-in")]]))
    drawn = markup.inline_keyboard[0][0]
    assert drawn.text == "Start check-in"
    assert drawn.callback_data is not None and len(drawn.callback_data.encode()) <= 64
    cls, fields = EXPECTED[action]
    parsed = cls.unpack(drawn.callback_data)
    assert {name: getattr(parsed, name) for name in fields} == fields
    # The filter the handler is registered with accepts it and hands it the same data.
    assert await cls.filter()(query(drawn.callback_data)) == {"callback_data": parsed}
    other = AlertCb if cls is CheckInCb else CheckInCb
    assert not await other.filter()(query(drawn.callback_data))


def test_a_check_in_button_packs_as_the_check_in_views_own_buttons() -> None:
    drawn = render_buttons(rows_data([[sample(buttons.CHECKIN_START)]])).inline_keyboard[0][0]
    assert drawn.callback_data == CheckInCb(action=ck.START, day=20260302).pack()


@pytest.mark.parametrize("action", [ck.START, ck.LATER, ck.ANSWER, ck.TOGGLE, ck.DONE,
                                    ck.SKIP, ck.BACK, ck.CHANGE, ck.PICK, ck.SUMMARY,
                                    ck.SUBMIT])
def test_a_check_in_screens_buttons_written_out_pack_as_the_model_does(action: str) -> None:
    for day, v, n in ((20260302, 0, 0), (20261231, 17, 10), (20260101, 3, 1)):
        packed = CheckInCb.packed(action, day, v, n)
        assert packed == CheckInCb(action=action, day=day, v=v, n=n).pack()
        assert CheckInCb.unpack(packed) == CheckInCb(action=action, day=day, v=v, n=n)


def test_a_button_carries_exactly_the_values_of_its_action() -> None:
    with pytest.raises(ValueError, match="unknown button action"):
        Button("alert.forward", "Forward", alert=ALERT_ID)
    with pytest.raises(ValueError, match="carries"):
        Button(buttons.ALERT_ACK, "Acknowledge", day=DAY.isoformat())
    assert sample(buttons.ALERT_ACK).to_data() == {
        "action": "alert.ack", "label": "Press", "alert": ALERT_ID}


def test_an_alert_copy_offers_details_and_acknowledge_and_once_handled_details_only() -> None:
    q = load_questionnaire()
    alerts = AlertService(clock=FakeClock(datetime(2026, 3, 2, 9, tzinfo=UTC)), questionnaire=q, rules=load_rules(questionnaire=q),
                          staff_language="es")
    open_copy = render_buttons(alerts.buttons(ALERT_ID)).inline_keyboard
    assert [b.text for b in open_copy[0]] == ["Detalles", "Confirmar"]
    assert [AlertCb.unpack(b.callback_data or "").action for b in open_copy[0]] == [
        DETAILS, ACKNOWLEDGE]
    handled = render_buttons(alerts.buttons(ALERT_ID, handled=True)).inline_keyboard
    assert [AlertCb.unpack(b.callback_data or "").action for b in handled[0]] == [DETAILS]
