"""Write docs/run-request.schema.json: `python -m airad.schemas.export [PATH]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from airad.schemas.request import run_request_json_schema


def main(path: str = "docs/run-request.schema.json") -> None:
    """Write the JSON Schema of RunRequest to `path`."""
    Path(path).write_text(json.dumps(run_request_json_schema(), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
