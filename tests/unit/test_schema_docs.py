"""The committed JSON Schemas (docs/*.schema.json) are what the structs generate, standard 2020-12 that
strict validators compile (no `discriminator`; tagged unions as `oneOf` with `const` tags), and they
agree with the daemon on the example requests."""

import json
import tomllib
from pathlib import Path

import pytest

from airad.daemon.validation import parse_experiment, parse_request
from airad.schemas.generate import SCHEMAS, schema_text
from airad.schemas.json_schema import DIALECT, MAX_SAFE_INTEGER
from airad.schemas.request import MAX_REQUEST_BYTES, run_request_json_schema
from airad.schemas.request_files import inline_files

DOCS = Path(__file__).parents[2] / "docs"
EXAMPLES = Path(__file__).parents[2] / "examples"
SCHEMA_FILE = DOCS / "run-request.schema.json"
EXPERIMENT_SCHEMA_FILE = DOCS / "experiment-request.schema.json"
STANDARD_KEYWORDS = {
    "$schema", "$ref", "$defs", "title", "description", "default", "type", "properties", "required",
    "additionalProperties", "items", "prefixItems", "minItems", "maxItems", "propertyNames", "minProperties",
    "maxProperties", "anyOf", "oneOf", "const", "enum", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minLength", "maxLength", "pattern",
}
VALUE_KEYWORDS = ("default", "const", "enum")


def _schema(name: str) -> dict:
    return SCHEMAS[name]()


def _nodes(node):
    """Every schema object of a schema, itself included (not the values of `default`, `const`, `enum`)."""
    if isinstance(node, list):
        for item in node:
            yield from _nodes(item)
    elif isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for sub in value.values():
                    yield from _nodes(sub)
            elif key not in VALUE_KEYWORDS:
                yield from _nodes(value)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_each_committed_schema_is_what_the_structs_generate(name):
    committed = (DOCS / name).read_text(encoding="utf-8")
    assert json.loads(committed) == _schema(name), "regenerate with: python -m airad.schemas.generate"
    assert committed == schema_text(_schema(name)), "regenerate with: python -m airad.schemas.generate"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_each_schema_is_standard_json_schema_2020_12_only(name):
    schema = _schema(name)
    assert schema["$schema"] == DIALECT == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"].startswith("airad ") and schema["description"]
    unknown = {key for node in _nodes(schema) for key in node} - STANDARD_KEYWORDS
    assert not unknown, f"keywords strict ajv refuses: {unknown}"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_union_of_objects_is_a_one_of_told_apart_by_a_required_const_tag(name):
    schema = _schema(name)
    definitions = schema["$defs"]
    unions = [node["oneOf"] for node in _nodes(schema) if "oneOf" in node]
    assert unions
    for branches in unions:
        targets = [definitions[branch["$ref"].rsplit("/", 1)[-1]] for branch in branches]
        tags = [_tag(target) for target in targets]
        assert len({field for field, _ in tags}) == 1, "one tag property per union"
        assert len({value for _, value in tags}) == len(tags), "each branch has its own tag"
    for node in _nodes(schema):
        refs = [branch["$ref"].rsplit("/", 1)[-1] for branch in node.get("anyOf", []) if "$ref" in branch]
        tagged = [name for name in refs if _is_tagged(definitions[name])]
        assert len(tagged) <= 1, f"a tagged union left as anyOf: {refs}"


def _is_tagged(definition: dict) -> bool:
    return any("const" in sub for sub in definition.get("properties", {}).values())


def _tag(definition: dict) -> tuple[str, str]:
    """The (property, value) a union branch is told apart by: its required const property."""
    consts = [(field, sub["const"]) for field, sub in definition["properties"].items() if "const" in sub]
    assert len(consts) == 1, definition["title"]
    assert consts[0][0] in definition["required"], definition["title"]
    return consts[0]


def test_schema_names_every_top_level_field():
    schema = run_request_json_schema()
    request = schema["$defs"]["RunRequest"]
    assert set(request["properties"]) == {
        "task", "policy", "operators", "model", "operator_models", "seed", "budget", "executor", "run_id", "labels", "program", "baseline", "domain",
    }
    assert request["required"] == ["task"]


def test_committed_experiment_schema_names_its_fields():
    request = json.loads(EXPERIMENT_SCHEMA_FILE.read_text())["$defs"]["ExperimentRequest"]
    assert request["required"] == ["tasks", "solvers"]
    assert {"seeds", "budget", "executor", "labels", "experiment_id", "max_parallel_runs"} <= set(request["properties"])


@pytest.mark.parametrize("name", ["run-request.schema.json", "experiment-request.schema.json"])
def test_request_schemas_state_the_size_limit_the_integer_rule_and_the_seed_range(name):
    schema = _schema(name)
    assert f"{MAX_REQUEST_BYTES:,} bytes" in schema["description"] and "1.0" in schema["description"]
    seed = schema["$defs"]["RunRequest" if name.startswith("run") else "ExperimentRequest"]["properties"]
    seed = seed["seed"] if "seed" in seed else seed["seeds"]["items"]
    assert (seed["type"], seed["minimum"], seed["maximum"]) == ("integer", 0, MAX_SAFE_INTEGER)


def test_long_text_fields_have_character_caps_within_the_byte_limit():
    definitions = run_request_json_schema()["$defs"]
    for field in ("baseline", "program"):
        prop = definitions["RunRequest"]["properties"][field]
        cap = max(branch.get("maxLength", 0) for branch in prop.get("anyOf", [prop]))
        assert 0 < cap < MAX_REQUEST_BYTES, field
    templates = definitions["OperatorSpec"]["properties"]["templates"]["additionalProperties"]
    assert 0 < templates["maxLength"] < MAX_REQUEST_BYTES


def _example_requests() -> list[Path]:
    files = sorted(EXAMPLES.glob("*.toml")) + sorted(EXAMPLES.glob("*/*.toml")) + sorted(EXAMPLES.glob("*.json"))
    return [path for path in files if {"task", "tasks"} & set(_read(path))]


def _read(path: Path) -> dict:
    return tomllib.loads(path.read_text()) if path.suffix == ".toml" else json.loads(path.read_text())


def test_there_are_example_run_and_experiment_requests():
    found = [path.name for path in _example_requests()]
    assert "quickstart.toml" in found and "experiment.toml" in found and "request.toml" in found


@pytest.mark.parametrize("path", _example_requests(), ids=lambda path: str(path.relative_to(EXAMPLES)))
def test_every_example_request_matches_its_schema_and_the_daemon_accepts_it(path):
    jsonschema = pytest.importorskip("jsonschema")
    data = inline_files(_read(path), path.parent)
    experiment = "tasks" in data
    schema = _schema("experiment-request.schema.json" if experiment else "run-request.schema.json")
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(data)
    parse = parse_experiment if experiment else parse_request
    assert parse(path.read_bytes(), toml=path.suffix == ".toml", base_dir=path.parent)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_each_schema_is_a_valid_2020_12_schema(name):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(_schema(name))


GOOD = {"task": {"kind": "bundled", "name": "wine"}}


@pytest.mark.parametrize("request_, valid", [
    (GOOD, True),
    ({**GOOD, "seed": 1.0, "budget": {"max_nodes": 1e3}}, True),
    ({**GOOD, "seed": MAX_SAFE_INTEGER}, True),
    ({**GOOD, "seed": MAX_SAFE_INTEGER + 1}, False),
    ({**GOOD, "seed": 1.5}, False),
    ({**GOOD, "seed": "1"}, False),
    ({**GOOD, "policy": {"kind": "mcts", "num_children": 3}}, True),
    ({**GOOD, "policy": {"kind": "mcts", "num_drafts": 3}}, False),
    ({"task": {"kind": "nope"}}, False),
])
def test_the_schema_and_the_daemon_agree(request_, valid):
    jsonschema = pytest.importorskip("jsonschema")
    schema_says = jsonschema.Draft202012Validator(run_request_json_schema()).is_valid(request_)
    try:
        parse_request(json.dumps(request_).encode())
        daemon_says = True
    except ValueError:
        daemon_says = False
    assert schema_says == daemon_says == valid


def test_a_plugin_kind_is_one_more_const_tagged_branch_of_its_union():
    from functools import partial

    from airad.daemon.plugins import request_schema
    from tests.unit.test_plugins import PLUGINS

    schema = run_request_json_schema(partial(request_schema, PLUGINS))
    assert {"$ref": "#/$defs/TwoStep"} in schema["$defs"]["RunRequest"]["properties"]["policy"]["oneOf"]
    two_step = schema["$defs"]["TwoStep"]
    assert two_step["properties"]["kind"] == {"const": "two-step"} and "kind" in two_step["required"]
    assert not {key for node in _nodes(schema) for key in node} - STANDARD_KEYWORDS
