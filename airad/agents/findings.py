"""What a run's nodes show, measured by the harness: per model family, how its drafts scored against
the run's other drafts; per plan change of an improve step, its validation score delta against its
parent. Validation scores only (the policy's view): held-out test scores never become knowledge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from msgspec import Struct

from airad.agents.families import family_name, family_of
from airad.agents.policy_view import NodeView, policy_view
from airad.events.fold import RunState
from airad.schemas.knowledge_events import AtomKind, Effect

CHANGE_CHARS = 160
KEY_CHARS = 72
MAX_FINDINGS = 24

_CHANGE = re.compile(r"\bchange:\s*(.+?)\.(?:\s|$)", re.IGNORECASE | re.DOTALL)
_SENTENCE = re.compile(r"(.+?)\.(?:\s|$)", re.DOTALL)
_KINDS: tuple[tuple[AtomKind, str], ...] = (  # the first kind whose pattern matches a change names it
    (
        "model_family",
        r"model family|switched .* to .*(lightgbm|xgboost|catboost|forest|trees|boosting|"
        r"linear|logistic|neighbou?r|svm|network)",
    ),
    ("preprocessing", r"imput|scal(e|ing)|encod|normali[sz]|standardi[sz]|missing|outlier|clip"),
    ("features", r"feature|log1p|interaction|product|polynomial|aggregat|\bratio"),
    (
        "hyper_parameters",
        r"n_estimators|learning.rate|depth|\bc\b|alpha|lambda|regulari[sz]|leaves|neighbors|min_samples|rounds|trees|iterations|epochs|\bl2\b",
    ),
)


class Finding(Struct, frozen=True):
    """One effect the run measured: a claim key, what it is about, and per node the harness's
    validation score and its delta against the node's reference (parent, or the mean draft)."""

    key: str
    kind: AtomKind
    subject: str
    effect: Effect
    node_ids: tuple[int, ...]
    scores: tuple[float, ...]
    score_deltas: tuple[float, ...]
    reference: str

    @property
    def mean_delta(self) -> float:
        """The mean raw score delta (in the metric's own direction)."""
        return sum(self.score_deltas) / len(self.score_deltas)


def gain(delta: float, lower_is_better: bool) -> float:
    """A score delta turned so that positive always means better."""
    return -delta if lower_is_better else delta


def plan_change(plan: str) -> str:
    """The change an improve plan makes: its `Change:` sentence, else its first sentence."""
    match = _CHANGE.search(plan) or _SENTENCE.search(plan.strip() + " ")
    text = match.group(1) if match else plan
    return " ".join(text.split())[:CHANGE_CHARS]


def change_key(change: str) -> str:
    """The claim key of a change: its words in lower case with every number as `n` (not digits inside
    a word, such as log1p)."""
    slug = re.sub(r"(?<![a-z_])\d+(?:\.\d+)?(?:e-?\d+)?", "n", change.lower())
    slug = re.sub(r"[^a-z0-9_]+", "-", slug).strip("-")[:KEY_CHARS].rstrip("-")
    return f"change.{slug or 'unnamed'}"


def family_key(family: str) -> str:
    """The claim key of a model family."""
    return f"family.{family}"


def change_kind(change: str) -> AtomKind:
    """Whether a change is about the model family, preprocessing, features or hyper-parameters."""
    for kind, pattern in _KINDS:
        if re.search(pattern, change, re.IGNORECASE):
            return kind
    return "other"


def run_findings(state: RunState) -> tuple[Finding, ...]:
    """The run's findings, strongest first (at most MAX_FINDINGS); none without scored nodes."""
    view = policy_view(state)
    lower = view.lower_is_better
    found = [*_family_findings(view.nodes, lower), *_change_findings(view.nodes, lower)]
    found.sort(key=lambda f: (-abs(gain(f.mean_delta, lower)), f.key))
    return tuple(found[:MAX_FINDINGS])


def _score(node: NodeView) -> float | None:
    """The node's validation score if it is done and not buggy, else None."""
    return node.score if node.done and not node.buggy else None


def _family_findings(nodes: Iterable[NodeView], lower: bool) -> list[Finding]:
    """Per model family, its drafts' scores against the mean of every scored draft (needs two families)."""
    drafts: list[tuple[str, int, float]] = []  # (family, node id, score)
    for node in nodes:
        score = _score(node)
        family = family_of(node.plan) if node.operator == "draft" and score is not None else None
        if family is not None and score is not None:
            drafts.append((family, node.id, score))
    if len({family for family, _, _ in drafts}) < 2:
        return []
    mean = sum(score for _, _, score in drafts) / len(drafts)
    found = []
    for family in sorted({family for family, _, _ in drafts}):
        members = [(node_id, score) for f, node_id, score in drafts if f == family]
        deltas = tuple(score - mean for _, score in members)
        effect = _effect(deltas, lower)
        if effect is not None:
            found.append(
                Finding(
                    family_key(family),
                    "model_family",
                    family_name(family),
                    effect,
                    tuple(i for i, _ in members),
                    tuple(score for _, score in members),
                    deltas,
                    "the mean of the run's drafts",
                )
            )
    return found


def _change_findings(nodes: tuple[NodeView, ...], lower: bool) -> list[Finding]:
    """Per change (by claim key), the improve steps' deltas against their parents."""
    steps: dict[str, list[tuple[str, int, float, float]]] = {}  # key: (change, node id, score, delta)
    for node in nodes:
        score = _score(node)
        if node.operator != "improve" or score is None or not node.parent_ids:
            continue
        parent_score = _score(nodes[node.parent_ids[0]])
        if parent_score is None:
            continue
        change = plan_change(node.plan)
        steps.setdefault(change_key(change), []).append((change, node.id, score, score - parent_score))
    found = []
    for key in sorted(steps):
        group = steps[key]
        deltas = tuple(delta for _, _, _, delta in group)
        effect = _effect(deltas, lower)
        if effect is not None:
            change = group[0][0]
            found.append(
                Finding(
                    key,
                    change_kind(change),
                    change,
                    effect,
                    tuple(i for _, i, _, _ in group),
                    tuple(score for _, _, score, _ in group),
                    deltas,
                    "the parent",
                )
            )
    return found


def _effect(deltas: tuple[float, ...], lower: bool) -> Effect | None:
    mean = sum(gain(d, lower) for d in deltas) / len(deltas)
    return "helped" if mean > 0 else "hurt" if mean < 0 else None
