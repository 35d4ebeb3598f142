"""Cohere emulator: datasets, embed jobs and batches, mounted at ``/cohere``."""
