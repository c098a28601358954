"""What tests read: the chats as people see them, the bot's answers, calls and files."""

from __future__ import annotations

from dataclasses import replace

from telegram_emulator.core import EmulatorCore
from telegram_emulator.models import (
    CallbackAnswer,
    ChatMessage,
    EmulatorAssertionError,
    RecordedCall,
    StoredFile,
)


class Observation(EmulatorCore):
    """Waiting for and reading what the bot did, as a person or a test sees it."""

    def chat(self, chat_id: int) -> list[ChatMessage]:
        """Messages visible in the chat, oldest first (copies)."""
        return [replace(m) for m in self._chats.get(chat_id, []) if not m.deleted]

    def deleted(self, chat_id: int) -> list[ChatMessage]:
        """Messages deleted from the chat, in chat order (copies)."""
        return [replace(m) for m in self._chats.get(chat_id, []) if m.deleted]

    async def wait_for_message(
        self,
        chat_id: int,
        contains: str | None = None,
        *,
        timeout: float = 20.0,  # noqa: ASYNC109 - part of the test API, a deadline in seconds
        from_bot: bool | None = True,
        after: int | None = None,
    ) -> ChatMessage:
        """Wait until a visible message matches; return the newest match.

        `after` restricts to message ids above it, so a repeated text is not matched by an
        older message.
        """

        def match() -> ChatMessage | None:
            for m in reversed(self._chats.get(chat_id, [])):
                if m.deleted or (from_bot is not None and m.from_bot != from_bot):
                    continue
                if after is not None and m.message_id <= after:
                    continue
                if contains is None or contains in m.text:
                    return m
            return None

        if not await self._wait_for(lambda: match() is not None, timeout):
            who = "bot " if from_bot else "person's " if from_bot is False else ""
            what = f" containing {contains!r}" if contains is not None else ""
            raise EmulatorAssertionError(
                f"no {who}message{what} in chat {chat_id} within {timeout} s; chat so far:\n"
                + ("\n".join(self.transcript(chat_id)) or "(empty)")
            )
        found = match()
        assert found is not None
        return replace(found)

    def transcript(self, chat_id: int | None = None) -> list[str]:
        """The conversation as readable lines, optionally for one chat only."""
        return [line for cid, line in self._transcript if chat_id is None or cid == chat_id]

    def commands_for(self, chat_id: int, language_code: str | None = None) -> list[str]:
        """Command names the person in this private chat sees, resolved as Telegram does."""
        person = self._persons.get(chat_id)
        if language_code is None:
            language_code = person.language_code if person else None
        lang = language_code or ""
        for scope in (("chat", chat_id), ("all_private_chats",), ("default",)):
            for code in dict.fromkeys((lang, "")):
                commands = self._commands.get((scope, code))
                if commands:
                    return [c["command"] for c in commands]
        return []

    def file(self, file_id: str) -> StoredFile:
        try:
            return self._files[file_id]
        except KeyError:
            raise EmulatorAssertionError(f"no stored file {file_id!r}") from None

    @property
    def files(self) -> list[StoredFile]:
        return list(self._files.values())

    @property
    def pending_update_count(self) -> int:
        return len(self._pending)

    @property
    def webhook_url(self) -> str | None:
        return self._webhook.url if self._webhook else None

    def calls_of(self, method: str) -> list[RecordedCall]:
        name = self._canonical(method)
        return [c for c in self.calls if c.method == name]

    # `timeout` is the test API's name for a deadline in seconds, not a cancel scope.
    async def callback_answer(self, query_id: str, timeout: float = 20.0) -> str:  # noqa: ASYNC109
        """Wait for the bot's answerCallbackQuery to this query; return its text ('' if none)."""
        callback = self._callbacks.get(query_id)
        if callback is None:
            raise EmulatorAssertionError(f"unknown callback query id {query_id!r}")
        if not await self._wait_for(lambda: callback.answer is not None, timeout):
            raise EmulatorAssertionError(
                f"the bot did not answer callback query {query_id} within {timeout} s"
            )
        assert callback.answer is not None
        return callback.answer.text

    def callback_answer_details(self, query_id: str) -> CallbackAnswer | None:
        """The full answer (text, show_alert, url) once the bot has answered, else None."""
        callback = self._callbacks.get(query_id)
        return callback.answer if callback else None
