"""``python -m podsearch.cli``: the same as the ``podsearch`` command."""

from podsearch.cli import main

main()
