"""The program: ``lakectl`` (the console script) and ``python -m lakectl``. The signal handlers go in before
anything heavy is imported (see lakectl.cli)."""

from lakectl.cli import exit_on_signals


def run() -> None:
    exit_on_signals()
    from lakectl.cli.main import main

    main()


if __name__ == "__main__":
    run()
