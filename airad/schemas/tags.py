"""The tag of a tagged msgspec struct (an event type, a task, executor or policy kind)."""

from __future__ import annotations

from msgspec import Struct


def struct_tag(value: Struct) -> str:
    """The stable tag of a tagged struct, e.g. 'node.executed' or 'slurm'."""
    tag = type(value).__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"{type(value).__name__} has no string tag")
    return tag
