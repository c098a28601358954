"""The long-running processes: `run` (the bot with delivery, the scheduler, the e-mail
fallback, metrics and the workspace) and `web` (the workspace alone). Each starts what
app/ builds and stops it through app/lifecycle.py."""
