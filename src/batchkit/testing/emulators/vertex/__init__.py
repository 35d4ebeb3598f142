"""Vertex AI JobService (batch prediction) emulator, mounted at ``/vertex`` beside GCS."""
