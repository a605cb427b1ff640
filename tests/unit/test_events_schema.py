"""docs/events.schema.json describes every run event and every field, the events the daemon writes
match it, docs/events.md documents each of them, and a rejection stays small whatever it quotes."""

import json
import re
import typing
from pathlib import Path

import msgspec
import pytest

from airad.daemon.intake import accept
from airad.daemon.runner import drive_run
from airad.events.in_memory import InMemoryEventLog, InMemoryRunIndex
from airad.schemas.errors import MAX_FIELD_CHARS, MAX_REASON_CHARS, FieldError
from airad.schemas.events import MAX_EXCERPT_CHARS, Event, RunRejected, encode_event, events_json_schema
from airad.schemas.request import Budget, RunRequest
from tests.fakes import ScriptedLLM
from tests.unit.test_runner import CRASH, GOOD, NONSENSE, _services, _submit

EVENTS_MD = Path(__file__).parents[2] / "docs" / "events.md"
BASE_FIELDS = ("type", "run_id", "seq", "at")
EVENT_TYPES = {cls.__struct_config__.tag: cls for cls in typing.get_args(Event)}


def _definitions() -> dict:
    return events_json_schema()["$defs"]


def _event_definitions() -> dict[str, dict]:
    """Each event type's definition, by type."""
    schema = events_json_schema()
    found = {}
    for branch in schema["oneOf"]:
        definition = schema["$defs"][branch["$ref"].rsplit("/", 1)[-1]]
        found[definition["properties"]["type"]["const"]] = definition
    return found


def _nested(definition: dict) -> list[str]:
    """The definitions an event's fields hold (as a value or as array items), the request's left out."""
    names = []
    for prop in definition["properties"].values():
        for candidate in (prop, prop.get("items", {})):
            ref = candidate.get("$ref", "")
            if ref and not ref.endswith("/RunRequest"):
                names.append(ref.rsplit("/", 1)[-1])
    return names


def test_the_schema_has_every_event_type_and_every_field():
    definitions = _event_definitions()
    assert set(definitions) == set(EVENT_TYPES)
    for tag, cls in EVENT_TYPES.items():
        assert set(definitions[tag]["properties"]) == {"type", *cls.__struct_fields__}, tag
        assert definitions[tag]["required"][0] == "type"


def test_every_field_of_every_event_has_a_description():
    definitions = _definitions()
    for tag, definition in _event_definitions().items():
        assert definition["description"], tag
        for name, prop in definition["properties"].items():
            assert name == "type" or prop.get("description"), f"{tag}.{name}"
        for nested in _nested(definition):
            if nested != "AtomRef":  # airad/schemas/knowledge_events.py
                assert all(p.get("description") for p in definitions[nested]["properties"].values()), nested


def test_the_schema_states_the_caps_of_a_rejection():
    rejected = _event_definitions()["run.rejected"]["properties"]
    assert rejected["field"]["maxLength"] == MAX_FIELD_CHARS
    assert rejected["reason"]["maxLength"] == MAX_REASON_CHARS
    assert rejected["excerpt"]["maxLength"] == MAX_EXCERPT_CHARS


def _rows() -> dict[str, str]:
    """events.md's table rows by event type: `| `type` | when | main fields |`."""
    rows = {}
    for line in EVENTS_MD.read_text().splitlines():
        found = re.match(r"^\| `([a-z_]+\.[a-z_]+)` \|", line)
        if found:
            rows[found.group(1)] = line
    return rows


def test_events_md_documents_every_event_type_and_every_field_in_its_row():
    text, rows = EVENTS_MD.read_text(), _rows()
    intro = text[: text.index("| type | when | main fields |")]
    assert all(f"`{field}`" in intro for field in BASE_FIELDS)
    definitions = _definitions()
    for tag, definition in _event_definitions().items():
        assert tag in rows, f"events.md has no row for {tag}"
        missing = [f for f in definition["properties"] if f not in BASE_FIELDS and f"`{f}`" not in rows[tag]]
        assert not missing, f"events.md's row for {tag} lacks {missing}"
        for nested in _nested(definition):
            absent = [f for f in definitions[nested]["properties"] if f"`{f}`" not in text]
            assert not absent, f"events.md never names {nested}'s {absent}"


def test_events_md_states_the_best_node_rule_the_blob_and_mark_formats_and_the_size_limit():
    text = " ".join(EVENTS_MD.read_text().split())
    assert "the lowest `node_id`, wins" in text and "It is null when no node has a valid score" in text
    assert '`[["system", "You are..."], ["user", "Write a script..."]]`' in text
    assert '`{"at": <Unix time>, "reason": "<why; may be empty>"}`' in text
    assert "262,144 bytes" in text and "python -m airad.schemas.generate" in text


async def test_the_events_of_a_run_match_the_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(events_json_schema())
    services = _services(tmp_path, ScriptedLLM([NONSENSE, NONSENSE, CRASH, GOOD, GOOD, GOOD]))
    await _submit(services, budget=Budget(max_nodes=3))
    await drive_run(services, "r")
    events = await services.log.read("r")
    for event in events:
        validator.validate(json.loads(encode_event(event)))
    seen = {json.loads(encode_event(event))["type"] for event in events}
    assert {"run.submitted", "node.generated", "node.executed", "node.scored", "node.failed", "run.finished"} <= seen


WINE = msgspec.json.decode(b'{"task": {"kind": "bundled", "name": "wine"}}', type=RunRequest)
REQUIRED_FIELDS = {
    "run_id": "r", "seq": 2, "at": 1.5, "request": WINE, "field": "$.seed", "reason": "max_nodes", "owner": "d",
    "domain": "tabular", "node_id": 0, "operator": "draft", "plan": "p", "code": "print(1)", "model": "m",
    "prompt_ref": "a" * 64, "completion_ref": "b" * 64, "executor": "local", "handle": "h", "exit_code": None,
    "duration_s": 0.5, "metric": "accuracy", "lower_is_better": False, "valid": True, "summary": "", "stage": "execute",
}


@pytest.mark.parametrize("tag", sorted(EVENT_TYPES))
def test_each_event_type_as_encoded_matches_the_schema(tag):
    jsonschema = pytest.importorskip("jsonschema")
    fields = msgspec.inspect.type_info(EVENT_TYPES[tag]).fields
    event = EVENT_TYPES[tag](**{field.name: REQUIRED_FIELDS[field.name] for field in fields if field.required})
    jsonschema.Draft202012Validator(events_json_schema()).validate(json.loads(encode_event(event)))


async def test_a_giant_task_name_gives_a_small_rejection_that_keeps_the_field():
    log, index = InMemoryEventLog(), InMemoryRunIndex()
    raw = json.dumps({"task": {"kind": "bundled", "name": "x" * 200_000}}).encode()
    assert await accept(log, index, raw, 4) == ("req-4", False)
    [rejection] = await log.read("req-4")
    assert isinstance(rejection, RunRejected) and rejection.field == "$.task.name"
    assert len(rejection.reason) <= MAX_REASON_CHARS and len(rejection.excerpt) <= MAX_EXCERPT_CHARS
    assert rejection.reason.startswith("unknown bundled task 'xxx") and "…" in rejection.reason
    assert "known: " in rejection.reason, "the end of the reason is kept"
    assert len(encode_event(rejection)) < 3000


def test_a_field_error_is_bounded_at_both_ends():
    error = FieldError("$.labels." + "k" * 5000, "bad " + "v" * 5000 + " the end")
    assert len(error.field) == MAX_FIELD_CHARS and error.field.startswith("$.labels.kk")
    assert len(error.reason) == MAX_REASON_CHARS and error.reason.startswith("bad vv")
    assert error.reason.endswith(" the end") and "…" in error.reason
    assert FieldError("$.seed", "short").reason == "short"
