"""The daily check-in: its questionnaire, flow, days and the use cases around them."""
