"""Homework in the chat.

Staff: /homework (the library), /homework CODE (a client's tasks: done, late, missing),
/homework CODE[,CODE...] TASK YYYY-MM-DD [text] (assign). Clients: /homework (their open
tasks, each with Answer), the answer typed over several messages (each removed from the
chat once stored, as in the journal), Save for later and Hand in."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.callbacks import HomeworkCb
from bot.filters import Role, client_of
from bot.outgoing import Outgoing
from bot.views.chat import keyboard
from journal.homework import HomeworkService, OpenAnswer, parse_request
from journal.i18n import _, current_language, ngettext
from journal.people import Person
from storage.uow import UnitOfWork


class Answering(Filter):
    """The client has a task open, so their next messages are its answer."""

    async def __call__(self, message: Message, person: Person, uow: UnitOfWork,
                       homework: HomeworkService) -> bool:
        return (person.client is not None
                and await homework.open_answer(uow, person.client) is not None)


def _answer_keyboard(homework_id: str) -> InlineKeyboardMarkup:
    return keyboard([[(_("Hand in"), HomeworkCb(action="d", homework=homework_id).pack()),
                      (_("Save for later"), HomeworkCb(action="p", homework=homework_id).pack())]])


def _progress(answer: OpenAnswer, hygiene: bool) -> str:
    if answer.parts == 0:
        text = _("Write your answer, in one message or several. Only text is kept.")
        if hygiene:
            text += " " + _("Each message is removed from this chat once it is saved.")
        return text + "\n\n" + _("Press Hand in when you are finished, or Save for later.")
    if answer.resumed:
        return ngettext(
            "Your unfinished answer is open again ({n} part saved so far). Write more, or "
            "press Hand in when you are finished.",
            "Your unfinished answer is open again ({n} parts saved so far). Write more, or "
            "press Hand in when you are finished.", answer.parts).format(n=answer.parts)
    return ngettext(
        "Saved ({n} part so far). Write more, or press Hand in when you are finished.",
        "Saved ({n} parts so far). Write more, or press Hand in when you are finished.",
        answer.parts).format(n=answer.parts)


# -- staff ----------------------------------------------------------------------------------
async def staff_homework(message: Message, command: CommandObject, person: Person,
                         uow: UnitOfWork, out: Outgoing, homework: HomeworkService) -> None:
    assert person.clinician is not None
    words = (command.args or "").split()
    if not words:
        library = [_("Tasks of the program's library (or \"own\" with your own text):")]
        library += [f"{code}: {homework.library.title(code, _lang())}"
                    for code in homework.library.titles]
        library.append(_("Use: /homework CODE[,CODE...] TASK YYYY-MM-DD [text]"))
        out.send(message.chat.id, "\n".join(library))
        return
    if len(words) == 1:
        client, lines = await homework.for_staff(uow, person.clinician, words[0].upper())
        text = [_("Homework of client {code}").format(code=client.code)]
        text += [f"• {line.due.isoformat()} {line.title}: {line.state_name}"
                 + (" — " + _("discussed") if line.discussed_at else "") for line in lines]
        if not lines:
            text.append(_("none"))
        else:
            text.append(_("Answers are read in the workspace."))
        out.send(message.chat.id, "\n".join(text))
        return
    made = await homework.assign(uow, person.clinician, parse_request(command.args))
    title = homework.library.title(made[0][1].task, _lang())
    out.send(message.chat.id, ngettext(
        "Task “{title}” given to {n} client, due {date}: {codes}.",
        "Task “{title}” given to {n} clients, due {date}: {codes}.", len(made)).format(
            title=title, n=len(made), date=made[0][1].due_date.isoformat(),
            codes=", ".join(client.code for client, _h in made)))


def _lang() -> str:
    return current_language.get()


# -- clients ----------------------------------------------------------------------------------
async def client_homework(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                          homework: HomeworkService) -> None:
    tasks = await homework.open_tasks(uow, client_of(person))
    if not tasks:
        out.send(message.chat.id, _("You have no tasks to do. Well done."))
        return
    lines = [_("Your tasks:")]
    buttons = []
    for n, (task, title) in enumerate(tasks, 1):
        state = _(" (started)") if task.status == "draft" else ""
        lines.append(_("{n}. {title}, due {date}{state}").format(
            n=n, title=title, date=task.due_date.isoformat(), state=state))
        buttons.append([(_("Answer {n}").format(n=n),
                         HomeworkCb(action="s", homework=task.id).pack())])
    out.send(message.chat.id, "\n".join(lines), keyboard(buttons))


async def homework_button(query: CallbackQuery, callback_data: HomeworkCb, person: Person,
                          uow: UnitOfWork, out: Outgoing, homework: HomeworkService) -> None:
    client = client_of(person)
    chat_id = query.from_user.id
    message_id = query.message.message_id if query.message else None
    action, homework_id = callback_data.action, callback_data.homework
    out.answer()
    if action == "s":
        answer = await homework.start(uow, client, homework_id)
        if answer.previous_status_message_id:
            out.delete(chat_id, answer.previous_status_message_id)
        out.send(chat_id, _progress(answer, homework.hygiene), _answer_keyboard(homework_id),
                 on_sent=homework.remember_status_message(client, homework_id))
    elif action == "d":
        await homework.finish(uow, client, homework_id)
        _closed(out, chat_id, message_id, _("Handed in. Thank you: your clinician will go "
                                            "through it with you."))
    elif action == "p":
        await homework.save_draft(uow, client, homework_id)
        _closed(out, chat_id, message_id, _("Saved for later. Send /homework to go on."))


def _closed(out: Outgoing, chat_id: int, message_id: int | None, text: str) -> None:
    if message_id is not None:
        out.edit(chat_id, message_id, text)
    else:
        out.send(chat_id, text)


async def answer_text(message: Message, person: Person, uow: UnitOfWork, out: Outgoing,
                      homework: HomeworkService) -> None:
    client = client_of(person)
    answer = await homework.append(uow, client, message.text or "")
    chat_id = message.chat.id
    text = _progress(answer, homework.hygiene)
    markup = _answer_keyboard(answer.homework_id)
    if homework.hygiene:
        out.delete(chat_id, message.message_id)
    if homework.hygiene and answer.status_message_id:
        out.edit(chat_id, answer.status_message_id, text, markup)
        return
    if answer.status_message_id:
        out.delete(chat_id, answer.status_message_id)
    out.send(chat_id, text, markup,
             on_sent=homework.remember_status_message(client, answer.homework_id))


async def answer_other(message: Message, out: Outgoing) -> None:
    out.send(message.chat.id, _("Only text is kept in your answer, so this was not saved. "
                                "Your answer is still open."))


def build_staff_router() -> Router:
    router = Router(name=__name__ + ".staff")
    router.message.filter(Role("clinician", "supervisor"))
    router.message.register(staff_homework, Command("homework"))
    return router


def build_client_router() -> Router:
    router = Router(name=__name__ + ".client")
    router.message.filter(Role("client"))
    router.callback_query.filter(Role("client"))
    router.message.register(client_homework, Command("homework"))
    router.callback_query.register(homework_button, HomeworkCb.filter())
    router.message.register(answer_text, F.text, ~F.text.startswith("/"), Answering())
    router.message.register(answer_other, ~F.text, Answering())
    return router
