"""The wording of the offline coder's plans: one sentence per helper."""

from __future__ import annotations

import re

from airad.offline.prompt import METRIC_NAMES, TaskFacts

_EXCEPTION = re.compile(r"^\s*([\w.]*(?:Error|Exception|Exit|Interrupt)):?\s*(.*)$")


def task_sentence(facts: TaskFacts) -> str:
    """What kind of task this is, what the script predicts and how the submission is keyed."""
    what = {
        "roc_auc": "predicts the probability of the positive class",
        "log_loss": "predicts class probabilities",
        "accuracy": "predicts class labels",
    }.get(facts.metric, "predicts the target value")
    metric = (
        METRIC_NAMES[facts.metric]
        if facts.metric_named
        else f"{METRIC_NAMES[facts.metric]} (my guess; the description names no metric I know)"
    )
    targets = (
        ", ".join(f"'{t}'" for t in facts.target_columns)
        if facts.target_columns
        else "the sample submission's target columns"
    )
    key = f"'{facts.id_column}'" if facts.id_column else "the sample submission's id column"
    return (
        f"This is a {facts.problem} task scored by {metric}, "
        f"so the script {what} for {targets} and keys the submission by {key}."
    )


def features_sentence(config: dict) -> str:
    """How the CONFIG prepares numeric and categorical columns."""
    scaling = " and standard scaling" if config["scale"] else ""
    encoding = "one-hot" if config["one_hot"] else "ordinal"
    extras = []
    if config["log_features"]:
        extras.append("signed log1p copies of the numeric features")
    if config["interactions"]:
        extras.append(f"pairwise products of the first {config['interactions']} numeric features")
    added = f"; it also adds {' and '.join(extras)}" if extras else ""
    return (
        f"Numeric columns get {config['impute']} imputation{scaling} "
        f"and categorical columns are {encoding} encoded{added}."
    )


def closing_sentence(config: dict) -> str:
    """How the script validates and what it writes."""
    share = round(config["valid_size"] * 100)
    metric = METRIC_NAMES[config["metric"]]
    return (
        f"It holds out {share}% of train.csv to print the validation {metric}, "
        "then refits on all rows and writes submission/submission.csv."
    )


def headline(error: str) -> str:
    """The line that says what went wrong: the last exception line, else the first line."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    exceptions = [line for line in lines if _EXCEPTION.match(line)]
    text = exceptions[-1] if exceptions else (lines[0] if lines else "no error output")
    text = text.replace("`", "'").rstrip(".")
    return text if len(text) <= 200 else text[:197] + "..."
