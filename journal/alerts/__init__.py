"""Risk alerts: levels, the rules and their file, the alert service and the e-mail fallback."""
