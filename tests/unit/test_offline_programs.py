"""The offline coder honours a research program (families to avoid are never used, families to try
are drafted first) and improves the user's own script in place."""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import pytest

from airad.agents.answers import parse_answer
from airad.agents.operators import TaskBrief
from tests.prompting import build_prompt
from airad.agents.policy_view import NodeView, PolicyView
from airad.offline.coder import FAMILIES, answer, tried_families
from airad.offline.drafting import new_config
from airad.offline.edits import find_estimator, swap_estimator
from airad.offline.program import program_hints
from airad.offline.prompt import Attempt, parse_prompt, task_facts
from airad.offline.scripts import read_config, render
from tests.unit.test_offline_coder import DESCRIPTION, OVERVIEW

AVOID_AND_TRY = """# Goal
Beat the baseline.

## Ideas to try
- Extra trees, then LightGBM.

## Ideas to avoid
- k-nearest neighbours and support vector machines: too slow here.
"""

USER_SCRIPT = '''"""The user's weak baseline."""

import json

from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

X, y = load_wine(return_X_y=True)
X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.3, random_state=0)
model = DecisionTreeClassifier(
    max_depth=1, random_state=0
)
model.fit(X_train, y_train)
json.dump({"accuracy": float((model.predict(X_valid) == y_valid).mean())}, open("metrics.json", "w"))
'''


def node(i, plan, code, *, operator="draft", parents=(), buggy=False, error="", score=0.6):
    return NodeView(id=i, operator=operator, parent_ids=parents, children=(), done=True, buggy=buggy,
                    score=None if buggy else score, plan=plan, code=code, error=error, debug_depth=0)


def ask(operator, nodes=(), parents=(), program="", description=DESCRIPTION):
    view = PolicyView(nodes=tuple(nodes), lower_is_better=False, decisions=len(nodes))
    built = build_prompt(operator, TaskBrief(description, OVERVIEW), view, tuple(parents), program=program)
    return parse_answer(answer([{"role": m.role, "content": m.content} for m in built]))


def family(plan):
    (found,) = tried_families([Attempt(0, "draft", "", plan)])
    return found


def test_program_hints_read_headings_labels_and_verbs():
    hints = program_hints(AVOID_AND_TRY + "\nAvoid: linear models.\n- Try random forest as well.\n- Don't use LightGBM on text.\n")
    assert hints.try_first == ("extra_trees", "random_forest")
    assert hints.avoid == {"knn", "svm", "linear", "lightgbm"}, "avoid wins over try"
    assert program_hints("# Goal\nUse random forests and LightGBM wisely.\n") == program_hints("")
    assert "try extra trees, LightGBM first" in program_hints(AVOID_AND_TRY).note()


def test_the_program_is_parsed_out_of_the_prompt_without_spilling_into_the_task():
    view = PolicyView(nodes=(), lower_is_better=False, decisions=0)
    text = build_prompt("draft", TaskBrief(DESCRIPTION, OVERVIEW), view, (), program=AVOID_AND_TRY)[1].content
    prompt = parse_prompt(text)
    assert "Ideas to avoid" in prompt.program and "Ideas to avoid" not in prompt.task
    assert task_facts(prompt.task, prompt.data).metric == "roc_auc"


def test_drafts_take_the_families_to_try_first_in_order():
    first = ask("draft", program=AVOID_AND_TRY)
    assert family(first.plan) == "extra_trees" and "research program asks to try extra trees" in first.plan
    second = ask("draft", [node(0, first.plan, first.code)], program=AVOID_AND_TRY)
    assert family(second.plan) == "lightgbm"


@pytest.mark.parametrize("seed", range(12))
def test_families_to_avoid_are_never_drafted(seed):
    description = DESCRIPTION + f"\nVariant {seed}.\n"
    nodes = []
    for i in range(len(FAMILIES) + 1):
        drafted = ask("draft", nodes, program=AVOID_AND_TRY, description=description)
        assert family(drafted.plan) not in ("knn", "svm")
        assert read_config(drafted.code)["family"] not in ("knn", "svm")
        nodes.append(node(i, drafted.plan, drafted.code))


def test_without_a_program_every_family_can_be_drafted():
    seen = {family(ask("draft", description=DESCRIPTION + f"\nVariant {k}.\n").plan) for k in range(40)}
    assert {"knn", "svm"} & seen


@pytest.mark.parametrize("score", [0.61, 0.62, 0.63, 0.64, 0.65, 0.66, 0.67, 0.68])
def test_improve_never_switches_to_an_avoided_family(score):
    import random

    config = new_config(task_facts(DESCRIPTION, OVERVIEW), "random_forest", random.Random(1))
    parent = node(0, "Model family: random forest.", render(config), score=score)
    improved = ask("improve", [parent], (0,), program="## Ideas to avoid\n- LightGBM\n")
    assert read_config(improved.code)["family"] != "lightgbm"


def test_the_users_script_is_improved_in_place_with_the_next_family_to_try():
    baseline = node(0, "The user's own script, run as given.", USER_SCRIPT, operator="baseline", score=0.6)
    improved = ask("improve", [baseline], (0,), program=AVOID_AND_TRY)
    assert improved.plan.startswith("Model family: extra trees. Improving node 0 (its model: decision tree, validation score 0.6)")
    assert "ExtraTreesClassifier(n_estimators=300" in improved.code and "DecisionTreeClassifier(" not in improved.code.split("import")[-1]
    assert "from sklearn.ensemble import ExtraTreesClassifier\n" in improved.code
    kept = [line for line in USER_SCRIPT.splitlines() if "DecisionTreeClassifier(" not in line and line.strip() not in ("max_depth=1, random_state=0", ")")]
    assert all(line in improved.code.splitlines() for line in kept), "every other line is the user's"
    compile(improved.code, "solution.py", "exec")
    sibling = node(1, improved.plan, improved.code, operator="improve", parents=(0,), score=0.9)
    again = ask("improve", [baseline, sibling], (0,), program=AVOID_AND_TRY)
    assert family(again.plan) == "lightgbm", "the next family to try, once extra trees was tried"


@pytest.mark.parametrize("variant", range(10))
def test_improving_the_users_script_never_uses_an_avoided_family(variant):
    baseline = node(0, "The user's own script.", USER_SCRIPT, operator="baseline", score=0.6 + variant / 100)
    improved = ask("improve", [baseline], (0,), program="## Ideas to avoid\n- k-nearest neighbours\n- SVM\n- extra trees\n")
    assert find_estimator(improved.code).family not in ("knn", "svm", "extra_trees")
    assert find_estimator(improved.code).family != "decision_tree", "a family the coder never writes is always replaced"


def test_a_tree_ensemble_gets_more_trees_or_another_family():
    code = USER_SCRIPT.replace("DecisionTreeClassifier(\n    max_depth=1, random_state=0\n)", "RandomForestClassifier(n_estimators=50, random_state=0)")
    code = code.replace("from sklearn.tree import DecisionTreeClassifier", "from sklearn.ensemble import RandomForestClassifier")
    changes = set()
    for k in range(8):
        improved = ask("improve", [node(0, "Model family: random forest.", code, score=0.7 + k / 100)], (0,))
        call = find_estimator(improved.code)
        changes.add("trees" if call.family == "random_forest" else "family")
        if call.family == "random_forest":
            assert call.params["n_estimators"] == 100 and "raised n_estimators of the random forest from 50 to 100" in improved.plan
    assert changes == {"trees", "family"}


def test_debug_adds_a_missing_import_to_the_users_script():
    broken = USER_SCRIPT.replace("import json\n", "")
    error = "Traceback (most recent call last):\n  File \"solution.py\", line 12\nNameError: name 'json' is not defined"
    fixed = ask("debug", [node(0, "The user's script.", broken, operator="baseline", buggy=True, error=error)], (0,))
    assert "import json\n" in fixed.code and "Cause: the script uses 'json' without importing it" in fixed.plan
    assert fixed.code.replace("import json\n", "") == broken


def test_debug_replaces_a_model_whose_library_is_missing():
    code, _ = swap_estimator(USER_SCRIPT, find_estimator(USER_SCRIPT), "lightgbm")
    error = "ModuleNotFoundError: No module named 'lightgbm'"
    fixed = ask("debug", [node(0, "Model family: LightGBM.", code, buggy=True, error=error)], (0,))
    assert find_estimator(fixed.code).family == "random_forest" and "cannot be imported" in fixed.plan


def test_crossover_of_two_edited_scripts_improves_one_of_them():
    a, _ = swap_estimator(USER_SCRIPT, find_estimator(USER_SCRIPT), "extra_trees")
    b, _ = swap_estimator(USER_SCRIPT, find_estimator(USER_SCRIPT), "random_forest")
    nodes = [node(0, "Model family: extra trees.", a, score=0.9), node(1, "Model family: random forest.", b, score=0.8)]
    child = ask("crossover", nodes, (0, 1))
    assert child.plan.startswith("Parent solution A (node 0) and Parent solution B (node 1) have no CONFIG I can combine")
    assert "this improves node 0" in child.plan and "Improving node 0 (its model: extra trees" in child.plan
    assert find_estimator(child.code) is not None and child.code != a


def test_find_estimator_sees_through_a_scaled_pipeline():
    code = "from x import y\nmodel = make_pipeline(StandardScaler(), LogisticRegression(C=0.1))\n"
    call = find_estimator(code)
    assert (call.family, call.problem, call.params) == ("linear", "classification", {"C": 0.1})
    swapped, expression = swap_estimator(code, call, "knn")
    assert swapped.count("StandardScaler()") == 1 and "KNeighborsClassifier(n_neighbors=11" in swapped
    assert find_estimator("print('no model here')\n") is None and find_estimator("def broken(:\n") is None
