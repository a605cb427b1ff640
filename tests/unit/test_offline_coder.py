"""The offline coder answers operator prompts deterministically, in the format parse_answer accepts."""

from __future__ import annotations

import os
import random

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch when litellm imports

import pytest

from airad.agents.answers import AnswerError, parse_answer
from airad.agents.operators import TaskBrief
from tests.prompting import build_prompt
from airad.agents.policy_view import NodeView, PolicyView
from airad.offline.coder import FAMILIES, NOT_A_JOB, answer, new_config, tried_families
from airad.offline.ensemble import as_member, make_ensemble
from airad.offline.prompt import Attempt, detect_metric, parse_overview, parse_prompt, task_facts
from airad.offline.scripts import BUGS, FAMILY_NAMES, read_config, render

DESCRIPTION = """# Breast cancer

Predict whether a tumour is malignant from measurements of its cell nuclei.

## Evaluation

Submissions are evaluated on area under the ROC curve between the predicted probability
and the observed target. The id column is `id` and the target column is `target`.
"""

OVERVIEW = """\
- train.csv: 455 rows; columns: id (int64), mean radius (float64), mean texture (float64), worst area (float64), target (int64)
- test.csv: 114 rows; columns: id (int64), mean radius (float64), mean texture (float64), worst area (float64)
- sample_submission.csv: 114 rows; columns: id (int64), target (float64)
- description.md"""


def node(i: int, plan: str, code: str = "", *, operator="draft", buggy=False, error="", score=0.9) -> NodeView:
    return NodeView(
        id=i, operator=operator, parent_ids=(), children=(), done=True, buggy=buggy,
        score=None if buggy else score, plan=plan, code=code, error=error, debug_depth=0,
    )


def messages(operator, nodes=(), parents=(), description=DESCRIPTION, overview=OVERVIEW) -> list[dict]:
    view = PolicyView(nodes=tuple(nodes), lower_is_better=False, decisions=len(nodes))
    built = build_prompt(operator, TaskBrief(description, overview), view, tuple(parents))
    return [{"role": m.role, "content": m.content} for m in built]


def family_of(plan: str) -> str:
    (family,) = tried_families_from(plan)
    return family


def tried_families_from(plan: str) -> set[str]:
    return tried_families([Attempt(0, "draft", "", plan)])


def is_buggy(code: str) -> bool:
    """A script is buggy iff it differs from the clean rendering of its own CONFIG."""
    return render(read_config(code)) != code


def draft_variants(n: int) -> list[list[dict]]:
    return [messages("draft", description=DESCRIPTION + f"\nCompetition round {k}.") for k in range(n)]


def test_draft_parses_names_a_family_and_embeds_config():
    text = answer(messages("draft"))
    parsed = parse_answer(text)
    assert 3 <= parsed.plan.count(". ") + 1 <= 6
    assert parsed.plan.startswith("Model family: ")
    config = read_config(parsed.code)
    assert config["family"] == family_of(parsed.plan)
    assert config["metric"] == "roc_auc" and config["problem"] == "classification"
    assert config["id_column"] == "id" and config["target_columns"] == ["target"]


def test_same_prompt_same_answer_and_different_prompts_differ():
    first, second = messages("draft"), messages("draft")
    assert answer(first) == answer(second)
    answers = {answer(m) for m in draft_variants(5)}
    assert len(answers) == 5


@pytest.mark.parametrize("left_out", FAMILIES)
def test_draft_avoids_families_in_memory(left_out):
    tried = [f for f in FAMILIES if f != left_out]
    nodes = [node(i, f"Model family: {FAMILY_NAMES[f]}. Some plan text.") for i, f in enumerate(tried)]
    parsed = parse_answer(answer(messages("draft", nodes)))
    assert family_of(parsed.plan) == left_out
    assert read_config(parsed.code)["family"] == left_out


def test_drafts_chain_through_distinct_families():
    nodes = []
    for i in range(len(FAMILIES)):
        parsed = parse_answer(answer(messages("draft", nodes)))
        nodes.append(node(i, parsed.plan, parsed.code))
    assert {read_config(n.code)["family"] for n in nodes} == set(FAMILIES)
    after_all = parse_answer(answer(messages("draft", nodes)))  # every family tried: falls back
    assert "tried already" in after_all.plan


def test_foreign_plans_count_as_tried():
    plans = ["I will fit a LightGBM model with early stopping.", "Logistic regression on scaled features."]
    assert tried_families_from(plans[0]) == {"lightgbm"}
    assert tried_families_from(plans[1]) == {"linear"}


def test_about_one_draft_in_three_is_buggy_and_every_bug_kind_occurs():
    codes = [parse_answer(answer(m)).code for m in draft_variants(90)]
    buggy = [c for c in codes if is_buggy(c)]
    assert 15 <= len(buggy) <= 45
    kinds = {
        "missing_import": any("import numpy as np" not in c for c in buggy),
        "misspelled_column": any("dropna(subset=['tagret'])" in c for c in buggy),
        "no_makedirs": any("os.makedirs" not in c for c in buggy),
        "no_id_column": any("pd.DataFrame(predictions)\n" in c for c in buggy),
    }
    assert kinds == dict.fromkeys(BUGS, True)


def test_improve_makes_one_change_to_the_config():
    parent = parse_answer(answer(messages("draft")))
    parent_config = read_config(render(read_config(parent.code)))
    changed = set()
    for score in (0.91, 0.92, 0.93, 0.94, 0.95, 0.96):
        nodes = [node(0, parent.plan, render(parent_config), score=score)]
        parsed = parse_answer(answer(messages("improve", nodes, (0,))))
        config = read_config(parsed.code)
        assert config != parent_config
        diff = {k for k in config if config[k] != parent_config[k]}
        assert diff <= {"params", "log_features", "interactions", "impute", "one_hot", "family", "scale"}
        assert parsed.plan.startswith("Improving node 0") and "Change: " in parsed.plan
        assert not is_buggy(parsed.code)
        changed |= diff
    assert len(changed) >= 2  # different prompts pick different changes


def test_improve_without_config_drafts_fresh():
    nodes = [node(0, "A plain model.", "import pandas as pd\nprint('hello')\n")]
    parsed = parse_answer(answer(messages("improve", nodes, (0,))))
    assert "no CONFIG I can read" in parsed.plan
    assert read_config(parsed.code)["metric"] == "roc_auc"
    assert not is_buggy(parsed.code)


ERRORS = {
    "missing_import": (
        "Traceback (most recent call last):\n  File \"solution.py\", line 101, in <module>\n"
        "    print(f\"Validation metric: {np.mean(scores):.6f}\")\nNameError: name 'np' is not defined",
        "import numpy as np",
    ),
    "misspelled_column": (
        "Traceback (most recent call last):\n  File \"solution.py\", line 83, in <module>\nKeyError: ['tagret']",
        "the column is called 'target'",
    ),
    "no_makedirs": (
        "OSError: Cannot save file into a non-existent directory: 'submission'",
        "os.makedirs",
    ),
    "no_id_column": ("submission is missing column 'id'", "sample_submission.csv's column order"),
}


@pytest.mark.parametrize("bug", BUGS)
def test_debug_names_the_error_and_renders_a_clean_script(bug):
    config = read_config(parse_answer(answer(messages("draft"))).code)
    buggy = render(config, bug=bug, misspelled="tagret")
    assert is_buggy(buggy)
    error, fix_words = ERRORS[bug]
    nodes = [node(0, "Model family: whatever.", buggy, buggy=True, error=error)]
    parsed = parse_answer(answer(messages("debug", nodes, (0,))))
    assert parsed.code == render(config)
    assert parsed.plan.startswith("The buggy solution (node 0) failed with: ")
    assert fix_words in parsed.plan


def test_debug_of_a_timeout_shrinks_the_model():
    config = {**read_config(parse_answer(answer(messages("draft"))).code), "family": "random_forest"}
    config["params"] = {"n_estimators": 800, "max_depth": None, "min_samples_leaf": 1}
    nodes = [node(0, "x", render(config), buggy=True, error="the script timed out after 600 s")]
    fixed = read_config(parse_answer(answer(messages("debug", nodes, (0,)))).code)
    assert fixed["params"]["n_estimators"] == 400


def test_debug_of_an_unknown_error_becomes_more_conservative():
    config = read_config(parse_answer(answer(messages("draft"))).code)
    config.update(impute="median", log_features=False, interactions=0)
    nodes = [node(0, "x", render(config), buggy=True, error="ValueError: something odd")]
    parsed = parse_answer(answer(messages("debug", nodes, (0,))))
    assert read_config(parsed.code)["family"] == "random_forest"
    assert "ValueError: something odd" in parsed.plan


def test_unrecognised_prompt_gets_prose_without_code():
    text = answer([{"role": "user", "content": "What is the capital of France?"}])
    assert text == NOT_A_JOB
    with pytest.raises(AnswerError):
        parse_answer(text)


def test_list_content_parts_are_read():
    plain = messages("draft")
    parts = [plain[0], {"role": "user", "content": [{"type": "text", "text": plain[1]["content"]}]}]
    assert parse_answer(answer(parts)).code == parse_answer(answer(plain)).code


@pytest.mark.parametrize(
    ("text", "metric"),
    [
        ("Submissions are evaluated on area under the ROC curve.", "roc_auc"),
        ("The evaluation metric is AUC.", "roc_auc"),
        ("Submissions are scored on the multi-class logarithmic loss.", "log_loss"),
        ("Evaluation: classification accuracy.", "accuracy"),
        ("Submissions are evaluated on Root Mean Squared Error (RMSE).", "rmse"),
        ("The metric is the root mean squared logarithmic error.", "rmsle"),
        ("Scored by mean squared error.", "mse"),
        ("Evaluated with the mean absolute error (MAE).", "mae"),
        ("Evaluated using the coefficient of determination R².", "r2"),
        ("Predict the house price well.", None),
    ],
)
def test_metric_detection(text, metric):
    assert detect_metric(text) == metric


def test_overview_parsing_handles_spaces_parentheses_and_dtypes():
    files = parse_overview(
        "- train.csv: 1,000 rows; columns: row id (int64), area (m2) (float64), city (object), ok (bool), y (float64)\n"
        "- test.csv: 200 rows; columns: row id (int64), area (m2) (float64), city (object), ok (bool)\n"
        "- sample_submission.csv: 200 rows; columns: row id (int64), y (float64)\n"
    )
    assert files["train.csv"]["rows"] == 1000
    assert files["train.csv"]["columns"] == {"row id": "int64", "area (m2)": "float64", "city": "object", "ok": "bool", "y": "float64"}
    facts = task_facts("Scored by RMSE.", "\n".join(
        f"- {name}: 3 rows; columns: " + ", ".join(f"{c} ({t})" for c, t in cols["columns"].items())
        for name, cols in files.items()
    ))
    assert (facts.id_column, facts.target_columns, facts.label_columns) == ("row id", ["y"], ["y"])
    assert facts.problem == "regression" and facts.has_categoricals


def test_multiclass_probability_columns_come_from_the_train_only_column():
    overview = (
        "- train.csv: 120 rows; columns: id (int64), a (float64), species (object)\n"
        "- test.csv: 30 rows; columns: id (int64), a (float64)\n"
        "- sample_submission.csv: 30 rows; columns: id (int64), setosa (float64), versicolor (float64), virginica (float64)"
    )
    facts = task_facts("Evaluated with multi-class log loss.", overview)
    assert facts.target_columns == ["setosa", "versicolor", "virginica"]
    assert facts.label_columns == ["species"]


def test_prompt_sections_survive_headings_inside_the_description_and_code():
    description = "# Overview\n\nA task.\n\n# Data\n\nThe description's own data section.\n\nScored by RMSE."
    code = "# Data\nx = 1\n# Your job: nothing\n"
    nodes = [node(0, "plan", code)]
    prompt = parse_prompt(messages("improve", nodes, (0,), description=description)[1]["content"])
    assert prompt.job == "improve"
    assert prompt.data == OVERVIEW
    assert "The description's own data section." in prompt.task
    assert prompt.parent_code.strip() == code.strip()
    assert prompt.parent_id == 0 and prompt.parent_score == "0.9"


def test_register_is_idempotent():
    import litellm

    from airad.offline.provider import PROVIDER, register

    register()
    register()
    entries = [item for item in litellm.custom_provider_map if item["provider"] == PROVIDER]
    assert len(entries) == 1
    assert PROVIDER in litellm.provider_list


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        ("no submission: the script did not write submission/submission.csv", "before creating the folder"),
        ("submission has 3 rows, expected 114 (one per row of test.csv)", "does not match sample_submission.csv"),
        ("submission repeats ids, e.g. 7", "does not match sample_submission.csv"),
    ],
)
def test_debug_reads_harness_messages(error, cause):
    config = read_config(parse_answer(answer(messages("draft"))).code)
    nodes = [node(0, "x", render(config), buggy=True, error=error)]
    parsed = parse_answer(answer(messages("debug", nodes, (0,))))
    assert cause in parsed.plan
    assert parsed.code == render(config)


def config_for(family: str, k: int = 0, description: str = DESCRIPTION, **options) -> dict:
    return {**new_config(task_facts(description, OVERVIEW), family, random.Random(k)), **options}


def crossover_of(a: dict, b: dict, scores=(0.9, 0.95), description=DESCRIPTION):
    nodes = [node(i, f"Model family: {c['family']}.", render(c), score=s) for i, (c, s) in enumerate(zip((a, b), scores))]
    prompt = messages("crossover", nodes, (0, 1), description=description)
    parsed = parse_answer(answer(prompt))
    assert answer(prompt) == answer(prompt) and not is_buggy(parsed.code)  # deterministic, clean
    return parsed, read_config(parsed.code)


def test_crossover_of_two_families_is_an_ensemble_of_both():
    a, b = config_for("lightgbm"), config_for("knn", 1)
    parsed, child = crossover_of(a, b)
    assert child["family"] == "ensemble" and child["members"] == [as_member(a), as_member(b)]
    assert all(child[k] == a[k] for k in ("problem", "metric", "id_column", "target_columns", "seed"))
    assert parsed.plan.startswith("Crossover of node 0 (LightGBM, validation score 0.9) and node 1 (k-nearest neighbours")
    assert tried_families_from(parsed.plan) == {"lightgbm", "knn"}


@pytest.mark.parametrize(("description", "scores"), [(DESCRIPTION, (0.95, 0.9)), ("Scored by RMSE.", (0.9, 0.95))], ids=["auc", "rmse"])
def test_crossover_of_one_family_merges_features_into_the_better_parent(description, scores):
    a = config_for("random_forest", 0, description, log_features=False, interactions=0)  # the better one
    b = config_for("random_forest", 1, description, log_features=True, interactions=4)
    parsed, child = crossover_of(a, b, scores, description)
    assert child == {**a, "log_features": True, "interactions": 4}
    assert "merges their feature engineering into the better parent (node 0)" in parsed.plan
    _, swapped = crossover_of(a, b, scores[::-1], description)  # b better: nothing to merge, so average both
    assert swapped["members"] == [as_member(a), as_member(b)]


def test_crossover_of_ensembles_interleaves_and_caps_members():
    lgbm, knn, rf, svm, lin = (config_for(f, k) for k, f in enumerate(["lightgbm", "knn", "random_forest", "svm", "linear"]))
    left, right = make_ensemble(lgbm, [as_member(lgbm), as_member(knn)]), make_ensemble(rf, [as_member(c) for c in (rf, svm, lin)])
    parsed, child = crossover_of(left, right)
    assert [m["family"] for m in child["members"]] == ["lightgbm", "random_forest", "knn", "svm"] and "1 dropped" in parsed.plan
    same, _ = crossover_of(left, make_ensemble(knn, [as_member(knn)]), scores=(0.95, 0.9))  # nothing new
    assert "nothing new to combine; instead this improves the better parent, node 0" in same.plan


def test_crossover_with_an_unreadable_parent_improves_the_other():
    b = config_for("extra_trees", 1)
    nodes = [node(0, "Some plan.", "print('no config')\n", score=0.99), node(1, "Model family: extra trees.", render(b), score=0.9)]
    parsed = parse_answer(answer(messages("crossover", nodes, (0, 1))))
    assert parsed.plan.startswith("Parent solution A (node 0) has no CONFIG I can read") and "Improving node 1" in parsed.plan
    assert read_config(parsed.code) != b and not is_buggy(parsed.code)


def test_improve_and_debug_work_on_ensembles():
    a, b = config_for("hist_gb"), config_for("svm", 1)
    ensemble = make_ensemble(a, [as_member(a), as_member(b)])
    for score in (0.91, 0.92, 0.93, 0.94):
        parsed = parse_answer(answer(messages("improve", [node(0, "x", render(ensemble), score=score)], (0,))))
        child = read_config(parsed.code)
        assert child["family"] == "ensemble" and child != ensemble and not is_buggy(parsed.code)
        kept = [m for m in child["members"] if m in ensemble["members"]]
        assert len(kept) == len(ensemble["members"]) - (len(child["members"]) == len(ensemble["members"]))
    for bug in BUGS:
        error, fix_words = ERRORS[bug]
        nodes = [node(0, "x", render(ensemble, bug=bug, misspelled="tagret"), buggy=True, error=error)]
        parsed = parse_answer(answer(messages("debug", nodes, (0,))))
        assert parsed.code == render(ensemble) and fix_words in parsed.plan
    nodes = [node(0, "x", render(ensemble), buggy=True, error="the script timed out after 600 s")]
    smaller = read_config(parse_answer(answer(messages("debug", nodes, (0,)))).code)  # svm becomes linear
    assert [m["family"] for m in smaller["members"]] == ["hist_gb", "linear"] and smaller["members"][0]["params"]["max_iter"] == a["params"]["max_iter"] // 2
