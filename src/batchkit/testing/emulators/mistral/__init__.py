"""Mistral batch emulator: files and batch jobs, checked against Mistral's OpenAPI spec."""
