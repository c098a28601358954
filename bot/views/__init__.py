"""How things look in the chat: each screen's text and buttons, built from plain values."""
