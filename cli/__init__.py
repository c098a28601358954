"""The `steadfast` command line, one module per command group. Admin commands never import
aiogram, so they answer at once; only `run` and `demo` do, inside the command."""

from cli import (  # noqa: F401 (registers)
    appointments,
    audit,
    clients,
    clinicians,
    db,
    export,
    master_keys,
    reports,
    serve,
)
from cli.base import CliError, main

__all__ = ["CliError", "main"]
