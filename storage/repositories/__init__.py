"""Repositories: one per aggregate, encrypting on write and decrypting on read. Never commit.

One module per aggregate; this package re-exports them, so importers write
`from storage.repositories import X`."""

from storage.repositories.alerts import AlertRepository, RiskOverrideRepository
from storage.repositories.appointments import AppointmentRepository
from storage.repositories.base import DuplicateError, new_id
from storage.repositories.calendar import CalendarRepository
from storage.repositories.checkins import CheckInRepository
from storage.repositories.enrolment import ConversationRepository, InviteRepository
from storage.repositories.groups import GroupRepository
from storage.repositories.homework import HomeworkRepository
from storage.repositories.journal_entries import JournalRepository
from storage.repositories.outbox import NewMessage, OutboxRepository, StaffEmailRepository
from storage.repositories.people import ClientRepository, ClinicianRepository
from storage.repositories.plans import PlanRepository
from storage.repositories.sharing import SharingRepository
from storage.repositories.updates import UpdateLedger
from storage.repositories.web import (
    WebInitDataRepository,
    WebSession,
    WebSessionRepository,
    WebSignInRepository,
)

__all__ = [
    "AlertRepository", "AppointmentRepository", "CalendarRepository", "CheckInRepository",
    "ClientRepository", "ClinicianRepository", "ConversationRepository", "DuplicateError",
    "GroupRepository", "HomeworkRepository", "InviteRepository", "JournalRepository",
    "NewMessage", "OutboxRepository", "PlanRepository", "RiskOverrideRepository",
    "SharingRepository", "StaffEmailRepository",
    "UpdateLedger", "WebInitDataRepository", "WebSession", "WebSessionRepository", "WebSignInRepository", "new_id",
]
