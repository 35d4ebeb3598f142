"""Gemini Developer API batch emulator, mounted at ``/gemini``."""
