"""The staff e-mail fallback: an alert, an escalation or a dead-letter notice that Telegram
has not delivered to a staff member within a set time goes out by e-mail as well.

A mail carries no health detail: the program, the level, the client code and the time, and
a line telling the reader to open Steadfast. Each fallback is claimed in the database, so it
is sent once per outbox row however many workers run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from journal import telemetry
from journal.alerts.levels import label
from journal.alerts.service import alert_heading
from journal.clock import Clock, backoff
from journal.i18n import N_, gettext_for
from journal.staff import StaffDefaults
from storage.records import StaffEmail
from storage.uow import Store, UnitOfWork

log = logging.getLogger(__name__)

ALERT_SUBJECT = N_("{program}: {level} alert for client {code}")
ESCALATED_SUBJECT = N_("{program}: {level} alert for client {code} not acknowledged in time")
ALERT_OPEN = N_("It has not reached you on Telegram yet. Open Steadfast to see it and "
                "acknowledge it.")
DEAD_SUBJECT = N_("{program}: a message could not be delivered")
DEAD_BODY = N_("A message could not be delivered and needs attention. Open Steadfast and "
               "send /deliveries.")


class Mailer(Protocol):
    async def send(self, *, to: str, subject: str, body: str) -> None: ...


@dataclass(frozen=True)
class _Mail:
    claim: StaffEmail
    to: str
    subject: str
    body: str
    client_id: str | None


class EmailFallback:
    """Keyword-only arguments:

    after        how long a staff message may wait for Telegram before it is mailed too
    program      the program's name, first in every subject
    lease        how long a claimed mail is this worker's before another may take it over
    """

    def __init__(self, *, store: Store, clock: Clock, mailer: Mailer, after: timedelta,
                 program: str = "Steadfast", staff_language: str = "en",
                 display_timezone: str = "UTC", lease: timedelta = timedelta(minutes=2),
                 batch: int = 20, base_backoff: float = 30.0, max_backoff: float = 600.0
                 ) -> None:
        self._store = store
        self._clock = clock
        self._mailer = mailer
        self._after = after
        self._program = program
        self._staff = StaffDefaults(staff_language, display_timezone)
        self._lease = lease
        self._batch = batch
        self._base = base_backoff
        self._max_backoff = max_backoff

    async def run_once(self) -> int:
        """One pass: open fallbacks for what is overdue, claim them, mail, record."""
        now = self._clock.now()
        async with self._store.transaction() as uow:
            await uow.staff_emails.open_overdue(now, after=self._after)
            mails = []
            for claim in await uow.staff_emails.claim_due(now, limit=self._batch,
                                                          lease=self._lease):
                mail = (await self._compose(uow, claim)
                        if await uow.staff_emails.still_needed(claim) else None)
                if mail is None:  # Telegram got there first, or the alert was handled
                    await uow.staff_emails.mark(claim.id, status="skipped", now=now)
                else:
                    mails.append(mail)
        sent = 0
        for mail in mails:
            try:
                await self._mailer.send(to=mail.to, subject=mail.subject, body=mail.body)
            except Exception as exc:  # SMTP down or refusing: try again later
                log.warning("e-mail fallback not sent, will retry: %s", type(exc).__name__)
                retry_at = self._clock.now() + timedelta(seconds=backoff(
                    mail.claim.attempts, base=self._base, cap=self._max_backoff))
                async with self._store.transaction() as uow:
                    await uow.staff_emails.mark(mail.claim.id, status="pending",
                                                now=self._clock.now(),
                                                error=type(exc).__name__, retry_at=retry_at)
                continue
            at = self._clock.now()
            async with self._store.transaction() as uow:
                await uow.staff_emails.mark(mail.claim.id, status="sent", now=at)
                about = (f"alert {mail.claim.alert_id}" if mail.claim.alert_id
                         else "dead-letter notice")
                await uow.audit(at=at, actor="system", action="email.fallback",
                                client_id=mail.client_id,
                                detail=f"clinician {mail.claim.clinician_id} {about}")
            telemetry.count("email_fallbacks_sent")
            sent += 1
        return sent

    async def _compose(self, uow: UnitOfWork, claim: StaffEmail) -> _Mail | None:
        """The mail in its recipient's own language and zone (the program's by default)."""
        to = await uow.clinicians.email(claim.clinician_id, self._clock.now())
        if to is None:
            return None
        locale = self._staff.of(await uow.clinicians.get(claim.clinician_id))

        def t(message: str) -> str:
            return gettext_for(locale.language, message)

        program = self._program
        if claim.alert_id is None:
            return _Mail(claim, to, t(DEAD_SUBJECT).format(program=program),
                         "\n".join([program, "", t(DEAD_BODY)]), None)
        alert = await uow.alerts.get(claim.alert_id)
        client = await uow.clients.get(alert.client_id) if alert is not None else None
        if alert is None or client is None:
            return None
        subject = t(ESCALATED_SUBJECT if claim.escalation else ALERT_SUBJECT).format(
            program=program, level=t(label(alert.level)), code=client.code)
        lines = [program, "", *alert_heading(alert, client.code, locale,
                                             escalated=bool(claim.escalation), zone_named=True)]
        lines += ["", t(ALERT_OPEN)]
        return _Mail(claim, to, subject, "\n".join(lines), client.id)


__all__ = ["EmailFallback", "Mailer"]
