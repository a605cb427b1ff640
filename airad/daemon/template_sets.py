"""The bundled prompt template sets (`airad/templates/<set>/*.j2`) and the templates a request uses.

A request's operators name a bundled set and may bring templates of their own that replace the
set's by name (`OperatorSpec.templates`, carried in the request itself so the log holds the text).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from airad.agents.templates import template_problems
from airad.schemas.errors import FieldError
from airad.schemas.policies import OperatorSpec


@cache
def bundled_sets() -> tuple[str, ...]:
    """The names of the bundled template sets."""
    root = resources.files("airad") / "templates"
    return tuple(sorted(entry.name for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith("_")))


@cache
def _bundled(name: str) -> tuple[tuple[str, str], ...]:
    folder = resources.files("airad") / "templates" / name
    return tuple(
        sorted(
            (entry.name.removesuffix(".j2"), entry.read_text(encoding="utf-8"))
            for entry in folder.iterdir()
            if entry.name.endswith(".j2")
        )
    )


def bundled_set(name: str) -> dict[str, str]:
    """The templates of bundled set `name` by template name; KeyError for an unknown set."""
    if name not in bundled_sets():
        raise KeyError(name)
    return dict(_bundled(name))


def templates_of(spec: OperatorSpec) -> dict[str, str]:
    """The templates a request's operators render: its set's, replaced by its own by name."""
    return {**bundled_set(spec.template_set), **spec.templates}


def operators_problem(spec: OperatorSpec, at: str) -> FieldError | None:
    """Why the operators at JSON path `at` cannot render prompts: an unknown set, or a template of the
    request's own that does not compile, names an unknown variable, renders to nothing or leaves out
    the output contract (the first problem, naming the template's field). None when they can."""
    if spec.template_set not in bundled_sets():
        known = ", ".join(bundled_sets())
        reason = f"unknown template set {spec.template_set!r} (this daemon has: {known})"
        return FieldError(f"{at}.template_set", reason)
    if not spec.templates:
        return None
    problems = template_problems(templates_of(spec), custom=sorted(spec.templates))
    if not problems:
        return None
    return FieldError(f"{at}.templates.{problems[0].name}", problems[0].reason)
