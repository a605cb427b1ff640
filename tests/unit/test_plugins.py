"""Plugins without packaging: a policy, a template operator, a function operator, checked by intake,
written to the log in the plugin form, driven by the real runner against in-memory fakes, and
listed in the request schema."""

import random
from functools import partial

import msgspec
import pytest

from airad.agents.plugin_api import OperatorPlugin, PolicyPlugin
from airad.agents.policy import decide
from airad.agents.policy_view import PolicyView, policy_view
from airad.daemon.plugins import Plugins, _refusal, request_schema
from airad.daemon.runner import drive_run
from airad.events.fold import fold
from airad.schemas.errors import FieldError
from airad.schemas.events import NodeGenerated, NodeSelected
from airad.schemas.policies import PluginPolicy
from airad.schemas.request import Budget, run_request_json_schema
from tests.fakes import ScriptedLLM
from tests.unit.test_runner import GOOD, _services, _submit


class TwoStep(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="two-step", tag_field="kind"):
    """Draft `drafts` times, then polish the best with the template operator, then tidy it."""

    drafts: int = 2


def decide_two_step(params: TwoStep, view: PolicyView, rng: random.Random):
    drafts = [n for n in view.nodes if n.operator == "draft"]
    if len(drafts) < params.drafts:
        return "draft", ()
    best = view.best() or rng.choice(drafts)
    return ("polish", (best.id,)) if not any(n.operator == "polish" for n in view.nodes) else ("tidy", (best.id,))


POLISH = OperatorPlugin(
    name="polish",
    template="Polish node {{ parents[0].id }} of {{ task.name }}:\n{{ parents[0].code }}\n\n{{ output_contract }}",
)


def tidy(context):
    parent = context.parents[0]
    return f"Node {parent.id}'s script, as it was.", parent.code


TIDY = OperatorPlugin(name="tidy", function=tidy)
PLUGINS = Plugins(
    policies={"two-step": PolicyPlugin(TwoStep, decide_two_step, operators=("draft", "polish", "tidy"))},
    operators={"polish": POLISH, "tidy": TIDY},
)


def test_a_plugin_kind_is_written_in_the_log_s_form_and_checked_against_its_params():
    request = {"task": {"kind": "bundled", "name": "iris"}, "policy": {"kind": "two-step", "drafts": 3, "parallel": 2}}
    form = PLUGINS.normalized(request)["policy"]
    assert form == {"kind": "plugin", "name": "two-step", "params": {"drafts": 3}, "parallel": 2}
    assert PLUGINS.policy_problem(msgspec.convert(form, PluginPolicy)) is None
    bad = PLUGINS.policy_problem(PluginPolicy(name="two-step", params={"drafts": "many"}))
    assert bad.field == "$.policy.params.drafts" and "Expected `int`" in bad.reason


def test_a_kind_the_daemon_lacks_is_named_with_what_it_has():
    with pytest.raises(FieldError) as caught:
        PLUGINS.normalized({"policy": {"kind": "halving"}})
    assert caught.value.field == "$.policy.kind" and "plugins installed: two-step" in caught.value.reason
    missing = Plugins(policies=PLUGINS.policies).policy_problem(PluginPolicy(name="two-step"))
    assert missing.field == "$.policy.kind" and "polish" in missing.reason and "tidy" in missing.reason
    assert Plugins().policy_problem(PluginPolicy(name="two-step")).reason.startswith("this daemon has no policy")


def test_operators_are_refused_when_their_template_is_bad_or_they_are_neither_kind():
    assert _refusal(POLISH, OperatorPlugin, ()) == ""
    assert "unknown variable(s): nope" in _refusal(OperatorPlugin(name="x", template="{{ nope }}"), OperatorPlugin, ())
    assert "output contract" in _refusal(OperatorPlugin(name="x", template="Polish it."), OperatorPlugin, ())
    assert "exactly one" in _refusal(OperatorPlugin(name="x"), OperatorPlugin, ())
    assert "built-in name" in _refusal(OperatorPlugin(name="debug", function=tidy), OperatorPlugin, ("debug",))


async def test_a_plugin_policy_runs_its_operators_and_its_decisions_replay(tmp_path):
    llm = ScriptedLLM([GOOD, GOOD, GOOD])
    services = _services(tmp_path, llm)
    services.plugins = PLUGINS
    await _submit(services, policy=PluginPolicy(name="two-step"), budget=Budget(max_nodes=4))
    state = await drive_run(services, "r")
    assert [n.operator for n in state.nodes] == ["draft", "draft", "polish", "tidy"]
    assert all(n.status == "scored" for n in state.nodes)
    assert llm.prompts[2].startswith(f"Polish node {state.nodes[2].parent_ids[0]} of breast-cancer:")
    events = await services.log.read("r")
    tidy_generated = [e for e in events if isinstance(e, NodeGenerated) and e.node_id == 3][0]
    assert tidy_generated.model == "plugin:tidy"
    assert tidy_generated.code == state.nodes[state.nodes[3].parent_ids[0]].code.rstrip()
    for index, event in enumerate(events):
        if isinstance(event, NodeSelected):
            view = policy_view(fold(events[:index]))
            action = decide(state.request.policy, view, state.request.seed, PLUGINS.policies)
            assert (action.operator, action.parent_ids) == (event.operator, event.parent_ids), "the decision replays"


def test_the_schema_offers_each_plugin_under_its_own_kind():
    schema = run_request_json_schema(partial(request_schema, PLUGINS))
    assert {"$ref": "#/$defs/TwoStep"} in schema["$defs"]["RunRequest"]["properties"]["policy"]["oneOf"]
    assert schema["$defs"]["TwoStep"]["properties"]["drafts"] == {"type": "integer", "default": 2}
    assert run_request_json_schema(partial(request_schema, Plugins())) == run_request_json_schema()


def test_the_schema_lets_a_plugin_policy_run_nodes_in_parallel_as_intake_does():
    schema = run_request_json_schema(partial(request_schema, PLUGINS))
    assert schema["$defs"]["TwoStep"]["properties"]["parallel"]["maximum"] == 64


def test_operator_models_may_name_plugin_operators_but_no_unknown_one():
    assert PLUGINS.operator_models_problem({"analyze": {}, "polish": {}}) is None
    problem = PLUGINS.operator_models_problem({"polsh": {}}, "$.solvers[0].operator_models")
    assert problem.field == "$.solvers[0].operator_models.polsh" and "polish" in problem.reason
