"""Texts shared by several handlers; every one is a gettext msgid."""

from __future__ import annotations

from journal.i18n import N_, _, current_language
from journal.review.plan import format_rules

UNKNOWN_PERSON = N_(
    "This bot serves enrolled participants of a program. Ask your clinician for an invite.")
SOMETHING_WRONG = N_(
    "Sorry, something went wrong on our side. Nothing you already answered is lost. "
    "Please try again in a moment.")
NOT_FOR_YOU = N_("That command is not available to you.")
# The only line Steadfast ever sends outside a person's own private chat: it has no data.
PRIVATE_CHAT_ONLY = N_("Steadfast works only in a private chat with you.")

ERRORS = {
    "error.generic": SOMETHING_WRONG,
    "error.not_found": N_("I could not find that."),
    "error.not_allowed": N_("That is not available to you."),
    "error.invalid": N_("I did not understand that. Please try again."),
    "invite.wrong": N_("This invite code is not valid. Please check the link your clinician "
                       "gave you, or ask for a new one."),
    "invite.used": N_("This invite has already been used. Ask your clinician for a new one."),
    "invite.expired": N_("This invite has expired. Ask your clinician for a new one."),
    "invite.revoked": N_("This invite is no longer valid. Ask your clinician for a new one."),
    "invite.locked": N_("Too many invalid codes were tried from this account. Please wait an "
                        "hour, then use the link your clinician gave you."),
    "invite.already_enrolled": N_("You are already enrolled with this account."),
    "enrol.none": N_("There is no enrolment in progress. Open the invite link from your "
                     "clinician to start."),
    "enrol.stale": N_("That button is from an earlier step. Please use the latest message."),
    "enrol.bad_time": N_("Please send a time like 20:00 or 7:30."),
    "enrol.bad_timezone": N_("I don't know that time zone. Please send a name like "
                             "Europe/Madrid or America/New_York, or pick one of the buttons."),
    "journal.part_too_long": N_("That message is too long to keep in one piece, so it was not "
                                "added. Please send it in shorter parts."),
    "journal.entry_full": N_("This entry is full, so that message was not added. Press Done "
                             "to save what you have written, then start a new entry with "
                             "/journal."),
    "journal.empty": N_("There is nothing in this entry yet. Write something first, or press "
                        "Cancel."),
    "journal.closed": N_("This journal entry is already closed. Start a new one with "
                         "/journal."),
    "journal.none": N_("No journal entry is open. Start one with /journal."),
    "checkin.changed": N_("The check-in questions were updated by your program, so this "
                          "check-in cannot go on. Please tell your clinician."),
    "checkin.too_long": N_("That is too long to save here. Please shorten it and send it "
                           "again."),
    "threshold.invalid": N_("That rule has no threshold to change, or the number is too low. "
                            "Send /threshold CODE to see the rules and their numbers."),
    "client.not_found": N_("No client with that code is in your caseload."),
    "progress.none": N_("No monthly progress report waits to be sent for that client."),
    "progress.note": N_("Use: /progress CODE followed by a short progress note for the "
                        "officer (up to 1500 characters). Never quote the client's answers "
                        "or journal."),
    "officer.not_found": N_("No active supervising officer has that Telegram id."),
    "sharing.stale": N_("This question was already answered or has ended."),
    "sharing.category": N_("That is not something this program shares."),
    "sharing.level": N_("That is not an alert level."),
    "sharing.not_enrolled": N_("This client has not enrolled yet."),
    "clinician.not_found": N_("No active clinician or supervisor has that Telegram id."),
    "client.not_monitored": N_("This client is not in active monitoring (discharged)."),
    "plan.closed": N_("This client was discharged, so their plan is kept as it was."),
    # {rules}: journal/review/plan.py's format_rules, the one statement of the format.
    "plan.format": N_("I could not read that plan. {rules} Nothing was changed."),
    "plan.suggestion": N_("That could not be kept as a suggestion: please send one short "
                          "line, at most 200 characters. Nothing else was changed."),
    "plan.moment": N_("This button is no longer active."),
    "report.days": N_("Use: /report CODE [days], with days from 1 to 366 (default 30)."),
    "schedule.usage": N_("Use: /schedule CODE HH:MM [days] [window HH:MM-HH:MM]\n"
                         "Days: daily, weekdays, weekends, mon-fri or mon,wed,fri (default: "
                         "unchanged). The window is the range within which the client may "
                         "choose their own time; \"window off\" removes it."),
    "schedule.outside_window": N_("The check-in time must fall within the client's window. "
                                  "Change the window in the same command, for example "
                                  "/schedule CODE 07:00 window 06:00-10:00."),
    "schedule.not_enrolled": N_("This client has not enrolled yet, so there is nothing to "
                                "pause or resume."),
    "pause.usage": N_("Use: /pause CODE hospital, /pause CODE custody or /pause CODE other. "
                      "Only these short reasons are stored; keep the details in your "
                      "clinical notes."),
    "resume.usage": N_("Use: /resume CODE"),
    "phase.usage": N_("Use: /phase CODE"),
    "rating.usage": N_("Use: /rate CODE, then /rate CODE with one digit (0, 1 or 2) for each "
                       "area in the order it lists, and a short note."),
    "phase.stepdown_usage": N_("Use: /stepdown CODE [reason]"),
    "phase.approve_usage": N_("Use: /approve CODE"),
    "phase.stepup_usage": N_("Use: /stepup CODE reason"),
    "phase.reason_needed": N_("Please give a reason: /stepup CODE reason. It is kept sealed "
                              "with the client's record."),
    "phase.reason_too_long": N_("That reason is too long. Please keep it under 500 "
                                "characters."),
    "phase.last": N_("This client is in the program's last phase already."),
    "phase.first": N_("This client is in the program's first phase already."),
    "phase.not_ready": N_("This client does not meet the criteria for the next phase yet. "
                          "/phase CODE shows which are met and which are not."),
    "phase.already_proposed": N_("A step down for this client is already waiting for a "
                                 "supervisor's approval."),
    "phase.nothing_proposed": N_("No step down is waiting for approval for this client."),
    "phase.own_proposal": N_("A step down needs a second person: another supervisor must "
                             "approve your own proposal."),
    "appointment.usage": N_("Use: /appointment CODE KIND YYYY-MM-DD HH:MM [online | place], "
                            "the time in the client's zone. Send /appointment alone to see "
                            "the kinds."),
    "appointment.kind": N_("I do not know that kind of appointment. Send /appointment alone "
                           "to see the kinds."),
    "appointment.place_too_long": N_("That place is too long. Please keep it under 200 "
                                     "characters."),
    "appointment.past": N_("That time has already passed in the client's time zone."),
    "appointment.gone": N_("This appointment is no longer open. Send /appointments to see "
                           "your next ones."),
    "appointment.begun": N_("This appointment has already begun, so it can no longer be "
                            "answered here."),
    "appointment.reason_too_long": N_("That is too long to save here. Please shorten it and "
                                      "send it again."),
    "attendance.usage": N_("Use: /attendance CODE attended|late|excused|no_show"),
    "attendance.not_yet": N_("This appointment has not begun yet, so its attendance cannot be "
                             "recorded."),
    "attendance.none": N_("This client has no past appointment whose attendance is still to "
                          "be recorded."),
    "homework.usage": N_("Use: /homework CODE[,CODE...] TASK YYYY-MM-DD [text], the due date "
                         "in the client's days; TASK \"own\" takes your own text. Send "
                         "/homework alone to see the tasks, /homework CODE for a client's."),
    "homework.task": N_("I do not know that task. Send /homework alone to see the tasks."),
    "homework.too_long": N_("That task is too long. Please keep it under 2000 characters."),
    "homework.past": N_("That due date has already passed in the client's time zone."),
    "homework.gone": N_("This task is no longer open. Send /homework to see your tasks."),
    "homework.handed_in": N_("This task is already handed in. Thank you."),
    "homework.full": N_("This answer is full, so that message was not added. Press Hand in "
                        "to send what you have written."),
    "homework.empty": N_("There is nothing in this answer yet. Write something first."),
    "time.outside_window": N_("That time is outside the range your clinician set. Please "
                              "choose another time."),
}


def error_text(key: str) -> str:
    text = _(ERRORS.get(key, SOMETHING_WRONG))
    if key == "plan.format":
        text = text.format(rules=format_rules(current_language.get()))
    return text


def crisis_message(*, phone: str, text_line: str, office: str, clinician_contact: str,
                   clinician_told: bool = True) -> str:
    """The program's crisis resources, shown the moment they are needed.

    `clinician_told=False` when the client asked for them (/help) and nobody was alerted."""
    lines = [_("You matter, and help is available right now."), ""]
    if phone:
        lines.append(_("Crisis line (call, any time): {phone}").format(phone=phone))
    if text_line:
        lines.append(_("Crisis text line: {text}").format(text=text_line))
    if office:
        lines.append(_("Program office: {phone}").format(phone=office))
    if clinician_contact:
        lines.append(_("Your clinician: {contact}").format(contact=clinician_contact))
    if clinician_told:
        lines += ["", _("If you are in danger now, call your local emergency number. Your "
                        "clinician is being told now and will contact you.")]
    else:
        lines += ["", _("If you are in danger now, call your local emergency number.")]
    return "\n".join(lines)
