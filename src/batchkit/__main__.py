"""``python -m batchkit``: the command line, for environments where the ``batchkit`` script is not
on PATH (a venv that is not activated, a subprocess started with ``sys.executable``)."""

from batchkit.cli import main

main()
