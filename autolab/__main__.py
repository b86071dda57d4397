"""``python -m autolab`` runs the command line."""

from .cli import main

main()
