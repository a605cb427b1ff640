"""The task kinds installed plugins provide (entry-point group `airad.tasks`), found by name in any
process that opens or grades a task."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

import msgspec

from airad.schemas.errors import FieldError, field_error
from airad.schemas.request import PluginTask
from airad.tasks.base import Task
from airad.tasks.plugin_api import TaskPlugin

GROUP = "airad.tasks"


@cache
def task_plugins() -> dict[str, TaskPlugin]:
    """The installed task plugins by kind; an entry point that does not load to a TaskPlugin is left out."""
    found: dict[str, TaskPlugin] = {}
    for entry in entry_points(group=GROUP):
        try:
            plugin = entry.load()
        except Exception:
            continue
        if isinstance(plugin, TaskPlugin):
            found[plugin.name] = plugin
    return found


def plugin_params(spec: PluginTask, plugin: TaskPlugin):
    """The request's parameters as the plugin's struct; `FieldError` naming the parameter at fault."""
    try:
        return msgspec.convert(spec.params, plugin.params)
    except msgspec.ValidationError as exc:
        raise field_error(exc, "$.task.params") from None


def plugin_task_problem(spec: PluginTask) -> tuple[str, str] | None:
    """Why a plugin task cannot be used: no such plugin here, bad parameters, or the plugin's own check."""
    plugin = task_plugins().get(spec.name)
    if plugin is None:
        have = ", ".join(sorted(task_plugins())) or "none"
        return "$.task.kind", f"this daemon has no task kind {spec.name!r} (task plugins installed: {have})"
    try:
        params = plugin_params(spec, plugin)
    except FieldError as exc:
        return exc.field, exc.reason
    problem = plugin.problem(params)
    if problem is None:
        return None
    below = problem[0].removeprefix("$").lstrip(".")
    return (f"$.task.params.{below}" if below else "$.task.params"), problem[1]


def open_plugin_task(spec: PluginTask, seed: int, tasks_root) -> Task:
    """Open a plugin task for a run's seed."""
    plugin = task_plugins()[spec.name]
    return plugin.open(plugin_params(spec, plugin), seed, tasks_root)
