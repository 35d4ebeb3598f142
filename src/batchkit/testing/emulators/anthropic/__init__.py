"""Anthropic Message Batches emulator, mounted at ``/anthropic``."""
