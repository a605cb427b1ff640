"""Write docs/run-request.schema.json and docs/experiment-request.schema.json:
`python -m airad.schemas.export [RUN_PATH [EXPERIMENT_PATH]]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from airad.schemas.experiment import experiment_request_json_schema
from airad.schemas.request import run_request_json_schema


def main(
    path: str = "docs/run-request.schema.json", experiment_path: str = "docs/experiment-request.schema.json"
) -> None:
    """Write the JSON Schemas of RunRequest and ExperimentRequest."""
    Path(path).write_text(json.dumps(run_request_json_schema(), indent=2, sort_keys=True) + "\n")
    Path(experiment_path).write_text(json.dumps(experiment_request_json_schema(), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
