"""A small S3 (the subset batch jobs use), mounted at ``/s3`` for the Bedrock emulator."""
