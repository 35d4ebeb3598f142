"""Groq batch emulator: the OpenAI emulator with Groq's ids, auth and create rules."""
