"""Write the JSON Schemas the docs commit, from the structs: `python -m airad.schemas.generate [DOCS_DIR]`
writes docs/run-request.schema.json, docs/experiment-request.schema.json and docs/events.schema.json."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from airad.schemas.events import events_json_schema
from airad.schemas.experiment import experiment_request_json_schema
from airad.schemas.request import run_request_json_schema

SCHEMAS: dict[str, Callable[[], dict]] = {
    "run-request.schema.json": run_request_json_schema,
    "experiment-request.schema.json": experiment_request_json_schema,
    "events.schema.json": events_json_schema,
}


def schema_text(schema: dict) -> str:
    """A schema as its committed file holds it: sorted keys, two-space indents, a final newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(docs_dir: str = "docs") -> None:
    """Write every schema of `SCHEMAS` into `docs_dir`."""
    for name, generate in SCHEMAS.items():
        (Path(docs_dir) / name).write_text(schema_text(generate()), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
