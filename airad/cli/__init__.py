"""The `airad` command: one module per command group, each built on `airad.Client` or the daemon.

`main` (in `airad.cli.main`) parses the arguments and hands them to the group's function."""

from airad.cli.main import main

__all__ = ["main"]
