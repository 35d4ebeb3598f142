"""OpenAI Batch API emulator (files and batches under ``/v1``).

The base that the Azure, Groq and Together emulators extend.
"""
