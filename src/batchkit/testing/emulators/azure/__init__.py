"""Azure OpenAI Global Batch emulator: the OpenAI emulator with Azure's paths, auth and rules."""
