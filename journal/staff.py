"""The language and zone a staff member reads in: their own when set, else the program's.

Every text to a clinician or supervisor (alerts, escalations, e-mail, caseload, summaries,
reports, invite replies) is written for one recipient, so it resolves that person here
rather than taking one program-wide language."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from journal.errors import InvalidInput
from journal.i18n import LANGUAGES
from storage.records import Clinician


@dataclass(frozen=True, slots=True)
class StaffLocale:
    language: str
    timezone: str


@dataclass(frozen=True, slots=True)
class StaffDefaults:
    """The program's DEFAULT_LANGUAGE and DEFAULT_TIMEZONE, for staff who chose neither."""

    language: str = "en"
    timezone: str = "UTC"

    def of(self, person: Clinician | None) -> StaffLocale:
        language = person.language if person is not None and person.language else None
        zone = person.timezone if person is not None and person.timezone else None
        return StaffLocale(language if language in LANGUAGES else self.language,
                           zone or self.timezone)


def check_language(value: str) -> str:
    """A language the catalogues hold (journal.i18n.LANGUAGES), or InvalidInput saying
    which exist."""
    code = value.strip().lower()
    if code not in LANGUAGES:
        raise InvalidInput(f"unknown language {value!r}; use one of: {', '.join(LANGUAGES)}",
                           key="staff.language")
    return code


def check_timezone(value: str) -> str:
    """An IANA zone name such as Europe/Madrid, or InvalidInput with an example."""
    name = value.strip()
    try:
        valid = bool(name) and ZoneInfo(name) is not None
    except (ZoneInfoNotFoundError, ValueError, OSError):
        valid = False
    if not valid:
        raise InvalidInput(f"unknown time zone {value!r}; use an Area/City name such as "
                           "Europe/Madrid or America/New_York", key="staff.timezone")
    return name


__all__ = ["StaffDefaults", "StaffLocale", "check_language", "check_timezone"]
