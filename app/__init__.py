"""What every Steadfast process stands on: the settings, the one composition root, start-up
checks, logs, metrics and health, mail, the HTTP server the webhook and pages share, and the
one way a process stops. Imports neither aiogram nor the adapters above it (bot/, web/)."""
