"""`steadfast appointment`: record a client's appointment from the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli.base import CliError, friendly, main, with_services

if TYPE_CHECKING:
    from app.composition import Services
    from storage.records import Appointment, Client


@main.group()
def appointment() -> None:
    """Clients' appointments: sessions, officer visits, court dates."""


@appointment.command("add")
@click.argument("code")
@click.option("--kind", required=True,
              help="A kind of the program's appointments file (individual, group, officer, "
                   "polygraph, court, other by default).")
@click.option("--at", "at", required=True, metavar='"YYYY-MM-DD HH:MM"',
              help="The local date and time in the client's time zone.")
@click.option("--place", default="", help="Where (stored encrypted).")
@click.option("--online", is_flag=True, help="An online appointment.")
@friendly
def appointment_add(code: str, kind: str, at: str, place: str, online: bool) -> None:
    """Record an appointment for client CODE on their clinician's behalf; the client is
    told in the chat and reminded at the program's times."""
    from datetime import date, time

    from journal.appointments import AppointmentRequest

    if place and online:
        raise CliError("give --place or --online, not both", 2)
    day_text, _, time_text = at.strip().partition(" ")
    try:
        hours, _, minutes = time_text.strip().partition(":")
        request = AppointmentRequest(code.strip().upper(), kind.strip().lower(),
                                     date.fromisoformat(day_text),
                                     time(int(hours), int(minutes)), online, place)
    except ValueError:
        raise CliError('--at must be "YYYY-MM-DD HH:MM"', 2) from None

    async def go(services: Services) -> tuple[Client, Appointment]:
        async with services.store.transaction() as uow:
            return await services.appointments.add_by_code(uow, request)

    client, made = with_services(go)
    where = "online" if made.online else ("a place (stored encrypted)" if made.place else
                                          "no place given")
    click.echo(f"Appointment {made.id} for client {client.code}: {made.kind} at "
               f"{made.starts_at:%Y-%m-%d %H:%M} UTC ({at.strip()} {client.timezone}), {where}.")
