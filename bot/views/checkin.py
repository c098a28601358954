"""How a check-in looks in the chat: one message's text and buttons for each screen."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks as ck
from bot.callbacks import CheckInCb
from journal.checkin.questionnaire import Item
from journal.checkin.view import CheckInView
from journal.i18n import _, ngettext

TICK = "✓ "
MAX_ROW = 6  # scale points per row, so 0-10 fits on a phone in two rows


def _button(text: str, view: CheckInView, action: str, n: int = 0) -> InlineKeyboardButton:
    data = CheckInCb.packed(action, ck.day_code(view.day), view.version, n)
    return InlineKeyboardButton(text=text, callback_data=data)


def _markup(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup | None:
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def render(view: CheckInView) -> tuple[str, InlineKeyboardMarkup | None]:
    """The text and buttons of the check-in message (language set by the caller)."""
    if view.screen == "done":
        return _done(view), None
    if view.screen == "summary":
        return _summary(view)
    if view.screen == "change":
        return _change_list(view)
    return _item(view)


def _item(view: CheckInView) -> tuple[str, InlineKeyboardMarkup | None]:
    item = view.item
    assert item is not None
    lang = view.language
    n, total = view.position
    lines = [f"{view.title} · " + _("{n} of {total}").format(n=n, total=total), "",
             item.text.get(lang)]
    hint = _hint(item, lang, view)
    if hint:
        lines += ["", hint]
    rows = _answer_rows(item, view)
    nav = []
    if view.can_go_back:
        nav.append(_button("« " + _("Back"), view, ck.BACK))
    if item.skippable:
        nav.append(_button(_("Skip"), view, ck.SKIP))
    rows.append(nav)
    return "\n".join(lines), _markup(rows)


def _hint(item: Item, lang: str, view: CheckInView) -> str:
    if item.kind == "scale":
        ends = [f"{point} = {label.get(lang)}" for point, label in item.labels.items()]
        return " · ".join(ends)
    if item.kind == "multi":
        return _("Choose any that fit, then press Done.")
    if item.kind == "text":
        if isinstance(view.previous, str):
            return _("Type a new answer and send it as a message, or keep the one you gave.")
        return _("Type your answer and send it as a message.")
    return ""


def _answer_rows(item: Item, view: CheckInView) -> list[list[InlineKeyboardButton]]:
    lang, previous = view.language, view.previous
    if item.kind == "choice":
        return [[_button((TICK if previous == option.key else "") + option.label.get(lang),
                         view, ck.ANSWER, index)]
                for index, option in enumerate(item.options)]
    if item.kind == "yesno":
        return [[_button((TICK if previous is value else "") + item.phrases.get(word, lang),
                         view, ck.ANSWER, int(value))
                 for word, value in (("yes", True), ("no", False))]]
    if item.kind == "scale":
        points = list(range(item.min, item.max + 1))
        per_row = -(-len(points) // -(-len(points) // MAX_ROW))  # even rows, MAX_ROW at most
        buttons = [_button((TICK if type(previous) is int and previous == p else "") + str(p),
                           view, ck.ANSWER, p) for p in points]
        return [buttons[i:i + per_row] for i in range(0, len(buttons), per_row)]
    if item.kind == "multi":
        rows = [[_button((TICK if option.key in view.selection else "")
                         + option.label.get(lang), view, ck.TOGGLE, index)]
                for index, option in enumerate(view.options)]
        rows.append([_button(_("Done"), view, ck.DONE)])
        return rows
    if isinstance(previous, str):  # text item the client came back to
        return [[_button(_("Keep my answer"), view, ck.DONE)]]
    return []


def _summary(view: CheckInView) -> tuple[str, InlineKeyboardMarkup | None]:
    lines = [view.title + ": " + _("your answers"), ""]
    lines += [f"• {question}: {answer}" for question, answer in view.answers]
    if view.quiet:
        count = len(view.quiet)
        lines += ["", ngettext("No or none ({n}): {questions}.",
                               "No or none ({n}): {questions}.", count).format(
            n=count, questions=", ".join(view.quiet))]
    lines += ["", _("Please check them, then press Submit.")]
    rows = [[_button(_("Submit"), view, ck.SUBMIT)],
            [_button(_("Change an answer"), view, ck.CHANGE)],
            [_button("« " + _("Back"), view, ck.BACK)]]
    return "\n".join(lines), _markup(rows)


def _change_list(view: CheckInView) -> tuple[str, InlineKeyboardMarkup | None]:
    rows = [[_button(short, view, ck.PICK, position)] for position, short in view.changeable]
    rows.append([_button("« " + _("Back to the summary"), view, ck.SUMMARY)])
    return _("Which answer would you like to change?"), _markup(rows)


def _done(view: CheckInView) -> str:
    lines = [_("Thank you. Your check-in for today is saved."), ""]
    if view.streak > 1:
        lines.append(ngettext("You have checked in {n} day in a row.",
                              "You have checked in {n} days in a row.",
                              view.streak).format(n=view.streak))
        lines.append(_("Keep going: each day you show up counts."))
    else:
        lines.append(_("Each day you show up counts. See you tomorrow."))
    return "\n".join(lines)


def later_text(minutes: int) -> str:
    return ngettext("All right. I'll remind you in {n} minute. You can also start any time "
                    "with /checkin.",
                    "All right. I'll remind you in {n} minutes. You can also start any time "
                    "with /checkin.", minutes).format(n=minutes)


def moved_text() -> str:
    """What an older copy of the check-in message turns into."""
    return _("Your answers so far are saved. The check-in continues below.")


def saved_text() -> str:
    return _("Saved.")
