"""`airad plugins` lists the policies, operators and task kinds installed packages add; `airad schema`
prints the request JSON Schema as this installation accepts it, plugins included."""

from __future__ import annotations

import argparse
import json
from functools import partial

from airad.cli.errors import EXIT_OK
from airad.daemon.plugins import installed_plugins, request_schema
from airad.daemon.settings import Settings
from airad.schemas.experiment import experiment_request_json_schema
from airad.schemas.request import run_request_json_schema


async def cmd_plugins(args: argparse.Namespace, settings: Settings) -> int:
    """Print the installed plugins, by kind."""
    plugins = installed_plugins()
    listing: dict[str, dict[str, dict]] = {
        "policies": {name: {"operators": list(p.operators)} for name, p in plugins.policies.items()},
        "operators": {
            name: {"kind": "function" if o.function else "template", "parents": o.parents, "offline_as": o.offline_as}
            for name, o in plugins.operators.items()
        },
        "tasks": {name: {} for name in plugins.tasks},
    }
    if args.json:
        print(json.dumps(listing, indent=2))
        return EXIT_OK
    for kind, found in listing.items():
        print(f"{kind}: {', '.join(sorted(found)) or '(none)'}")
    return EXIT_OK


async def cmd_schema(args: argparse.Namespace, settings: Settings) -> int:
    """Print the run (or experiment) request's JSON Schema with this installation's plugins."""
    with_plugins = partial(request_schema, installed_plugins())
    schema = experiment_request_json_schema(with_plugins) if args.experiment else run_request_json_schema(with_plugins)
    print(json.dumps(schema, indent=2, sort_keys=True))
    return EXIT_OK


def register(command) -> None:
    """Add `plugins` and `schema` to `airad`'s parser."""
    command("plugins", cmd_plugins, "the policies, operators and task kinds installed plugins add")
    schema = command("schema", cmd_schema, "the request JSON Schema this installation accepts, plugins included", False)
    schema.add_argument("--experiment", action="store_true", help="the experiment request's schema")
