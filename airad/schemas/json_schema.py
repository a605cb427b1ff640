"""Standard JSON Schema (2020-12) from msgspec's, so strict validators such as ajv compile it: a tagged
union becomes a `oneOf` of objects whose tag property is a required `const`, with no OpenAPI
`discriminator`; and JSON Schema's notion of an integer (any integral number, `1.0` and `1e3` too)
made to hold for the daemon's decoding."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import msgspec

DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_SAFE_INTEGER = 2**53 - 1
_VALUES = ("default", "const", "enum", "examples")
_SCHEMA_MAPS = ("properties", "$defs", "patternProperties", "dependentSchemas")


def standard_json_schema(schema: dict, title: str, description: str) -> dict:
    """msgspec's JSON Schema (`msgspec.json.schema`) as standard 2020-12, under a title and description."""
    plain = msgspec.json.decode(msgspec.json.encode(schema))  # tuples as JSON arrays
    for node in _nodes(plain):
        if "discriminator" in node:
            _require_tags(node["discriminator"], plain.get("$defs", {}))
    return {"$schema": DIALECT, "title": title, "description": description, **_standard(plain)}


def _nodes(node: Any) -> Iterator[dict]:
    """Every schema object in `node`, itself included; values (defaults, consts) are not schemas."""
    if isinstance(node, list):
        for item in node:
            yield from _nodes(item)
    elif isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key in _SCHEMA_MAPS:
                for sub in value.values():
                    yield from _nodes(sub)
            elif key not in _VALUES:
                yield from _nodes(value)


def _require_tags(discriminator: dict, definitions: dict) -> None:
    """Give each definition a discriminator maps to its tag as a required `const`, which makes the
    branches of its union mutually exclusive."""
    tag = discriminator["propertyName"]
    for value, ref in discriminator["mapping"].items():
        definition = definitions[ref.rsplit("/", 1)[-1]]
        definition.setdefault("properties", {})[tag] = {"const": value}
        required = definition.setdefault("required", [])
        if tag not in required:
            required.insert(0, tag)


def _standard(node: Any) -> Any:
    """A copy of a schema node and its sub-schemas in standard form: a discriminated `anyOf` as a
    `oneOf`, a one-value `enum` as a `const`, docstring indentation taken out of descriptions."""
    if isinstance(node, list):
        return [_standard(item) for item in node]
    if not isinstance(node, dict):
        return node
    standard: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SCHEMA_MAPS:
            standard[key] = {name: _standard(sub) for name, sub in value.items()}
        elif key == "discriminator":
            continue
        else:
            standard[key] = value if key in _VALUES else _standard(value)
    if "discriminator" in node:
        standard["oneOf"] = standard.pop("anyOf")
    enum = standard.get("enum")
    if isinstance(enum, list) and len(enum) == 1:
        del standard["enum"]
        standard["const"] = enum[0]
    if isinstance(standard.get("description"), str):
        standard["description"] = inspect.cleandoc(standard["description"])
    return standard


def integral_floats_as_ints(data: Any) -> Any:
    """Decoded JSON (or TOML) with every integral float of at most 2^53 − 1 in magnitude as an int
    (`1.0` → 1, `1e3` → 1000), as JSON Schema's `integer` allows; `1.5`, strings and booleans stay
    as they are, for the typed decoding to accept or reject."""
    if isinstance(data, float) and data.is_integer() and abs(data) <= MAX_SAFE_INTEGER:
        return int(data)
    if isinstance(data, dict):
        return {key: integral_floats_as_ints(value) for key, value in data.items()}
    if isinstance(data, list):
        return [integral_floats_as_ints(item) for item in data]
    return data
