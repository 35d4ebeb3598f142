"""Bedrock batch inference emulator, mounted at ``/bedrock`` beside the S3 emulator."""
