"""Together AI batch emulator: the OpenAI emulator's batch engine behind Together's own API."""
