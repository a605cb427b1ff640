"""A task kind from a plugin: named by its own kind in a request, recorded in the plugin form, its
parameters and its own check named at intake, opened and graded like a built-in task in a real run
(in-memory fakes; the plugin is registered by replacing the entry-point lookup)."""

import msgspec
import pytest

import airad.tasks.plugins as task_plugins_module
from airad.daemon.plugins import Plugins
from airad.daemon.runner import drive_run
from airad.daemon.validation import parse_request
from airad.schemas.errors import FieldError
from airad.schemas.request import Budget, BundledTask, PluginTask
from airad.tasks.bundled import prepare_bundled
from airad.tasks.plugin_api import TaskPlugin
from airad.tasks.registry import task_problem
from tests.fakes import ScriptedLLM
from tests.unit.test_runner import GOOD, _services, _submit


class SmallCancer(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="small-cancer", tag_field="kind"):
    """The bundled breast-cancer task under a plugin's kind; `rows` must stay within the data."""

    rows: int = 100


def _problem(params: SmallCancer):
    return ("rows", "at most 569 rows") if params.rows > 569 else None


PLUGIN = TaskPlugin(SmallCancer, lambda params, seed, root: prepare_bundled(BundledTask("breast-cancer"), seed, root), _problem)


@pytest.fixture(autouse=True)
def installed(monkeypatch):
    monkeypatch.setattr(task_plugins_module, "task_plugins", lambda: {"small-cancer": PLUGIN})
    monkeypatch.setattr("airad.daemon.validation.installed_plugins", lambda: Plugins(tasks={"small-cancer": PLUGIN}))


def test_a_request_names_the_kind_and_intake_records_the_plugin_form():
    request = parse_request('{"task": {"kind": "small-cancer", "rows": 200}}')
    assert request.task == PluginTask(name="small-cancer", params={"rows": 200})


@pytest.mark.parametrize(
    "task, field, reason",
    [
        ('{"kind": "small-cancer", "rows": "all"}', "$.task.params.rows", "Expected `int`"),
        ('{"kind": "small-cancer", "rows": 1000}', "$.task.params.rows", "at most 569 rows"),
        ('{"kind": "big-cancer"}', "$.task.kind", "plugins installed: small-cancer"),
    ],
)
def test_a_bad_plugin_task_is_named(task, field, reason):
    with pytest.raises(FieldError) as caught:
        parse_request(f'{{"task": {task}}}')
    assert caught.value.field == field and reason in caught.value.reason


def test_a_kind_this_process_lacks_is_a_problem_not_a_crash(monkeypatch):
    monkeypatch.setattr(task_plugins_module, "task_plugins", lambda: {})
    field, reason = task_problem(PluginTask(name="small-cancer"))
    assert field == "$.task.kind" and "no task kind 'small-cancer'" in reason


async def test_a_run_on_a_plugin_task_is_graded_by_its_harness(tmp_path):
    services = _services(tmp_path, ScriptedLLM([GOOD, GOOD]))
    await _submit(services, task=PluginTask(name="small-cancer"), budget=Budget(max_nodes=2))
    state = await drive_run(services, "r")
    assert [n.status for n in state.nodes] == ["scored", "scored"]
    assert state.metric == "roc_auc" and all(0.5 < n.score <= 1.0 for n in state.nodes)
