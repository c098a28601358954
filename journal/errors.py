"""Domain errors: each carries a message key a person can be shown, never a stack trace."""

from __future__ import annotations

import traceback
from collections.abc import Sequence


class DomainError(Exception):
    """Base of errors that have a kind answer for the person who caused them.

    `key` names the text shown to the person (translated by the bot); `str()` is for
    operators and never contains answers, journal text or keys.
    """

    key = "error.generic"

    def __init__(self, message: str = "", *, key: str | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.key)
        if key is not None:
            self.key = key


class NotFound(DomainError):
    """The thing asked for does not exist or is not yours to see."""

    key = "error.not_found"


class NotAllowed(DomainError):
    """This person may not do that."""

    key = "error.not_allowed"


class InvalidInput(DomainError):
    """The input could not be understood."""

    key = "error.invalid"


def safe_trace(exc: BaseException) -> str:
    """An exception for the log: its type and frames, never its message. Messages of
    libraries (pydantic, drivers) can quote the input that caused them, and that input may
    be what a client wrote."""
    return f"{type(exc).__name__}\n" + "".join(traceback.format_tb(exc.__traceback__))


class DataFileError(ValueError):
    """A program's data file (questionnaire, risk rules) has problems; all are listed."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        count = len(self.problems)
        return f"{count} problem{'s' if count != 1 else ''}:\n" + "\n".join(
            f"- {problem}" for problem in self.problems
        )
