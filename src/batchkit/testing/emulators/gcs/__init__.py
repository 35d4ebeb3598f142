"""A small Cloud Storage (the JSON API subset batch jobs use), mounted at ``/gcs`` for Vertex."""
