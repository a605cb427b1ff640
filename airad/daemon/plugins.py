"""The plugins installed beside the daemon: policies (`airad.policies`), operators (`airad.operators`)
and task kinds (`airad.tasks`), found by entry point once, and what intake does with them.

A request names a plugin by its own kind (`policy = {kind = "successive-halving", rungs = 3}`);
`normalized` rewrites that to the log's form (`{kind = "plugin", name = ..., params = {...}}`) before
the request is decoded, and `policy_problem` checks it as intake checks a built-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any

import msgspec
import structlog

from airad.agents.plugin_api import OperatorPlugin, PolicyPlugin
from airad.agents.templates import plugin_template_problem
from airad.daemon.template_sets import bundled_set
from airad.schemas.errors import FieldError, field_error
from airad.schemas.events import BUILTIN_OPERATORS
from airad.schemas.policies import BUILTIN_POLICIES, PluginPolicy
from airad.schemas.request import BUILTIN_TASKS, MODEL_OPERATORS
from airad.tasks.plugin_api import TaskPlugin
from airad.tasks.plugins import task_plugins

log = structlog.get_logger()
GROUPS = {"airad.policies": PolicyPlugin, "airad.operators": OperatorPlugin}


@dataclass(frozen=True)
class Plugins:
    """The daemon's plugins by name."""

    policies: Mapping[str, PolicyPlugin] = field(default_factory=dict)
    operators: Mapping[str, OperatorPlugin] = field(default_factory=dict)
    tasks: Mapping[str, TaskPlugin] = field(default_factory=dict)

    @classmethod
    def installed(cls) -> Plugins:
        """Every plugin installed in this environment. One that does not load, is not of its group's
        type, or takes a built-in's name is logged and left out."""
        found: dict[str, dict] = {group: {} for group in GROUPS}
        builtin = {"airad.policies": BUILTIN_POLICIES + ("plugin",), "airad.operators": BUILTIN_OPERATORS}
        for group, kind in GROUPS.items():
            for entry in entry_points(group=group):
                try:
                    plugin: Any = entry.load()
                except Exception as exc:
                    log.warning("plugin.unloadable", group=group, entry=entry.name, error=f"{exc!r}"[:300])
                    continue
                name = getattr(plugin, "name", "")
                problem = _refusal(plugin, kind, builtin[group])
                if problem:
                    log.warning("plugin.refused", group=group, entry=entry.name, reason=problem)
                    continue
                found[group][name] = plugin
        return cls(found["airad.policies"], found["airad.operators"], dict(task_plugins()))

    def normalized(self, data: object, at: str = "$") -> object:
        """A decoded request (or an experiment's solver) with plugin kinds in the log's form; a kind
        neither built in nor installed is a `FieldError` naming what this daemon has."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        policy = data.get("policy")
        if isinstance(policy, dict) and policy.get("kind") not in (*BUILTIN_POLICIES, "plugin", None):
            data["policy"] = _plugin_form(policy, self.policies, f"{at}.policy", "policy", BUILTIN_POLICIES)
        task = data.get("task")
        if isinstance(task, dict) and task.get("kind") not in (*BUILTIN_TASKS, "plugin", None):
            data["task"] = _plugin_form(task, self.tasks, f"{at}.task", "task kind", BUILTIN_TASKS)
        if isinstance(data.get("tasks"), list):
            data["tasks"] = [
                _plugin_form(t, self.tasks, f"{at}.tasks[{i}]", "task kind", BUILTIN_TASKS)
                if isinstance(t, dict) and t.get("kind") not in (*BUILTIN_TASKS, "plugin", None)
                else t
                for i, t in enumerate(data["tasks"])
            ]
        if isinstance(data.get("solvers"), list):
            data["solvers"] = [self.normalized(s, f"{at}.solvers[{i}]") for i, s in enumerate(data["solvers"])]
        return data

    def policy_problem(self, policy: object, at: str = "$.policy") -> FieldError | None:
        """Why a plugin policy cannot run here: not installed, bad parameters, or an operator it may
        choose that this daemon lacks. None for a built-in policy or a good plugin one."""
        if not isinstance(policy, PluginPolicy):
            return None
        plugin = self.policies.get(policy.name)
        if plugin is None:
            return FieldError(f"{at}.kind", f"this daemon has no policy {policy.name!r} ({_have(self.policies)})")
        try:
            msgspec.convert(policy.params, plugin.params)
        except msgspec.ValidationError as exc:
            return field_error(exc, f"{at}.params")
        missing = [op for op in plugin.operators if op not in BUILTIN_OPERATORS and op not in self.operators]
        if missing:
            return FieldError(f"{at}.kind", f"policy {policy.name!r} needs operator(s) this daemon lacks: {missing}")
        return None

    def operator_models_problem(self, models: Mapping[str, object], at: str = "$.operator_models") -> FieldError | None:
        """A model named for an operator that is neither built in nor a plugin's here."""
        for name in models:
            if name not in MODEL_OPERATORS and name not in self.operators:
                known = ", ".join([*MODEL_OPERATORS, *sorted(self.operators)])
                return FieldError(f"{at}.{name}", f"no operator {name!r} (operators: {known})")
        return None


def _refusal(plugin: Any, kind: type, builtin: tuple[str, ...]) -> str:
    """Why an entry point's object cannot be a plugin of its group ("" when it can)."""
    if not isinstance(plugin, kind):
        return f"not a {kind.__name__}"
    name = getattr(plugin, "name", "")
    if name in builtin:
        return f"{name!r} is a built-in name"
    if isinstance(plugin, OperatorPlugin):
        if (plugin.function is None) == (not plugin.template):
            return "an operator has a template or a function, exactly one"
        if plugin.template:
            like = plugin.offline_as if plugin.offline_as in ("draft", "improve", "debug", "crossover") else "improve"
            problem = plugin_template_problem({**bundled_set("aira"), plugin.name: plugin.template}, plugin.name, like)
            if problem is not None:
                return f"its template {problem.reason}"
    return ""


def _plugin_form(spec: dict, installed: Mapping, at: str, what: str, builtin: tuple[str, ...]) -> dict:
    kind = spec.get("kind")
    if kind not in installed:
        raise FieldError(f"{at}.kind", f"no {what} {kind!r}: built in are {', '.join(builtin)}; {_have(installed)}")
    runtime = ("kind", "parallel") if what == "policy" else ("kind",)
    form: dict[str, object] = {
        "kind": "plugin",
        "name": kind,
        "params": {k: v for k, v in spec.items() if k not in runtime},
    }
    if "parallel" in spec and what == "policy":
        form["parallel"] = spec["parallel"]
    return form


def _have(installed: Mapping) -> str:
    return f"plugins installed: {', '.join(sorted(installed))}" if installed else "no plugin installed"


@cache
def installed_plugins() -> Plugins:
    """This environment's plugins, looked up once per process."""
    return Plugins.installed()


def request_schema(plugins: Plugins, schema: dict) -> dict:
    """A request's JSON Schema (run or experiment) with each plugin's parameters as one more choice
    wherever a policy or a task is chosen, under the plugin's own kind."""
    params = [p.params for p in plugins.policies.values()] + [t.params for t in plugins.tasks.values()]
    if not params:
        return schema
    refs, components = msgspec.json.schema_components(params, ref_template="#/$defs/{name}")
    parallel = schema["$defs"]["PluginPolicy"]["properties"]["parallel"]
    for plugin in plugins.policies.values():
        properties = components[plugin.params.__name__].setdefault("properties", {})
        properties.setdefault("parallel", parallel)  # the runner's, beside the plugin's own parameters
    schema = {**schema, "$defs": {**schema["$defs"], **components}}
    marks = ["greedy"] * len(plugins.policies) + ["bundled"] * len(plugins.tasks)
    kinds = [*plugins.policies, *plugins.tasks]
    for kind, mark, ref in zip(kinds, marks, refs, strict=True):
        for choice in _choices(schema):
            if mark in choice["discriminator"]["mapping"]:
                choice["anyOf"].append(ref)
                choice["discriminator"]["mapping"][kind] = ref["$ref"]
    return schema


def _choices(schema: dict) -> list[dict]:
    """The tagged unions of the schema's definitions: a property's, or its items'."""
    found = []
    for definition in schema["$defs"].values():
        for prop in definition.get("properties", {}).values():
            for candidate in (prop, prop.get("items", {})):
                if isinstance(candidate, dict) and "plugin" in candidate.get("discriminator", {}).get("mapping", {}):
                    found.append(candidate)
    return found
