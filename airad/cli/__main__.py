"""`python -m airad.cli`: the same as the `airad` command."""

import sys

from airad.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
