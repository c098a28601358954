"""The services an admin command asks for, each built (and its module imported) the first
time it is asked for: `clinician list` needs the store and AdminService, not the
questionnaire, the risk rules and every use case the bot serves."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.composition import Services
    from bot.settings import Settings
    from journal.administration import AdminService
    from journal.clock import Clock
    from journal.review.caseload import CaseloadService
    from storage.keyring import KeyringService
    from storage.uow import Store


class LazyServices:
    """Services' fields under the same names; the ones admin commands use are built alone,
    any other from the whole composition root (bot/composition.py)."""

    def __init__(self, settings: Settings, store: Store, clock: Clock) -> None:
        self.settings, self.store, self.clock = settings, store, clock

    @functools.cached_property
    def admin(self) -> AdminService:
        from journal.administration import AdminService

        return AdminService(store=self.store, clock=self.clock,
                            staff_language=self.settings.default_language)

    @functools.cached_property
    def keyring(self) -> KeyringService:
        from storage.keyring import KeyringService

        return KeyringService(store=self.store, clock=self.clock)

    @functools.cached_property
    def caseload(self) -> CaseloadService:
        from journal.review.caseload import CaseloadService

        return CaseloadService(clock=self.clock, staff_language=self.settings.default_language)

    @functools.cached_property
    def _everything(self) -> Services:
        from bot.composition import build_services

        return build_services(self.settings, self.store, self.clock)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._everything, name)
