"""The clinical domain: questionnaire, check-in flow, risk rules and use-case services."""
