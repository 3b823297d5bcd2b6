"""The ``cnncalc`` command and ``python -m cnncalc``."""

import os


def main() -> None:
    """Run the CLI (cnncalc.cli). Pydantic looks for plugins when it builds its first validator,
    reading the metadata of every installed distribution (a few hundredths of a second on each
    start); the command uses none, so it says so unless the user has chosen otherwise."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from .cli import main as run

    run()


if __name__ == "__main__":
    main()
