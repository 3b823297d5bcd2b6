"""``python -m cnncalc``."""

from .cli import main

main()
