"""``python -m search`` runs the ``news-search`` command."""

from search.cli import main

main()
