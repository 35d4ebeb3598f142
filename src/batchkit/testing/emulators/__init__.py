"""The vendor emulators, one package per vendor, each laid out the same way (as moto does).

* ``state.py``: what the vendor holds in memory (batches, jobs, files) and how it moves on the
  shared clock;
* ``routes.py``: the HTTP app (its URL table and handlers) and ``create_app``, the factory that
  ``emulate()`` names;
* ``replies.py``: how the vendor answers (result rows, reply bodies, error bodies);
* anything else the vendor needs, e.g. ``validation.py`` for OpenAI's input-file checks.

An emulator imitates the vendor's wire, not batchkit: it checks what it receives against the
vendor's own schema or SDK types and never imports ``batchkit.providers``. The object stores
(``s3``, ``gcs``) sit beside the vendors that read and write them (Bedrock, Vertex); the generic
core (server, clock, schema fill, spec loading) stays one level up in ``batchkit.testing``.
"""
