"""The command menu each role sees, registered per chat so nobody sees another role's."""

from __future__ import annotations

from journal.i18n import N_, gettext_for

CLIENT = (
    ("checkin", N_("Today's check-in")),
    ("journal", N_("Write in your journal")),
    ("entries", N_("Read your recent journal entries")),
    ("plan", N_("Your relapse prevention plan")),
    ("help", N_("Help and crisis contacts")),
    ("language", N_("Change language")),
    ("time", N_("Change check-in time")),
)
CLINICIAN = (
    ("invite", N_("Invite a new client")),
    ("alerts", N_("Open alerts")),
    ("threshold", N_("A client's alert thresholds")),
    ("schedule", N_("Set a client's check-in time and days")),
    ("pause", N_("Pause a client's check-ins")),
    ("resume", N_("Resume a client's check-ins")),
    ("caseload", N_("Your clients, most in need first")),
    ("client", N_("A client's summary and history")),
    ("report", N_("A client's session report (PDF)")),
    ("plan", N_("See or change a client's RP plan")),
    ("discharge", N_("Discharge a client")),
    ("workspace", N_("Open the workspace pages")),
    ("language", N_("Your language for alerts, summaries and reports")),
    ("help", N_("What you can do here")),
)
SUPERVISOR = (*CLINICIAN, ("deliveries", N_("Messages that could not be delivered")),
              ("reassign", N_("Move a client to another clinician")))


def menu(kind: str, language: str) -> list[tuple[str, str]]:
    table = {"client": CLIENT, "clinician": CLINICIAN, "supervisor": SUPERVISOR}.get(kind, ())
    return [(name, gettext_for(language, text)) for name, text in table]
