"""APScheduler wiring: ticks that work out from the database what is due."""
