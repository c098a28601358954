"""Texts shared by several handlers; every one is a gettext msgid."""

from __future__ import annotations

from journal.i18n import N_, _

UNKNOWN_PERSON = N_(
    "This bot serves enrolled participants of a program. Ask your clinician for an invite.")
SOMETHING_WRONG = N_(
    "Sorry, something went wrong on our side. Nothing you already answered is lost. "
    "Please try again in a moment.")
NOT_FOR_YOU = N_("That command is not available to you.")

ERRORS = {
    "error.generic": SOMETHING_WRONG,
    "error.not_found": N_("I could not find that."),
    "error.not_allowed": N_("That is not available to you."),
    "error.invalid": N_("I did not understand that. Please try again."),
    "invite.wrong": N_("This invite code is not valid. Please check the link your clinician "
                       "gave you, or ask for a new one."),
    "invite.used": N_("This invite has already been used. Ask your clinician for a new one."),
    "invite.expired": N_("This invite has expired. Ask your clinician for a new one."),
    "invite.locked": N_("Too many invalid codes were tried from this account. Please wait an "
                        "hour, then use the link your clinician gave you."),
    "invite.already_enrolled": N_("You are already enrolled with this account."),
    "enrol.none": N_("There is no enrolment in progress. Open the invite link from your "
                     "clinician to start."),
    "enrol.stale": N_("That button is from an earlier step. Please use the latest message."),
    "enrol.bad_time": N_("Please send a time like 20:00 or 7:30."),
    "enrol.bad_timezone": N_("I don't know that time zone. Please send a name like "
                             "Europe/Madrid or America/New_York, or pick one of the buttons."),
}


def error_text(key: str) -> str:
    return _(ERRORS.get(key, SOMETHING_WRONG))


def crisis_message(*, phone: str, text_line: str, office: str, clinician_contact: str) -> str:
    """The program's crisis resources, shown the moment they are needed."""
    lines = [_("You matter, and help is available right now."), ""]
    if phone:
        lines.append(_("Crisis line (call, any time): {phone}").format(phone=phone))
    if text_line:
        lines.append(_("Crisis text line: {text}").format(text=text_line))
    if office:
        lines.append(_("Program office: {phone}").format(phone=office))
    if clinician_contact:
        lines.append(_("Your clinician: {contact}").format(contact=clinician_contact))
    lines += ["", _("If you are in danger now, call your local emergency number. Your "
                    "clinician has been told and will contact you.")]
    return "\n".join(lines)
