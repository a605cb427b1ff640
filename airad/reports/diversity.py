"""Ideation diversity of a run's drafts: how many distinct model families, how different the plans."""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import combinations

from msgspec import Struct

FAMILY_PATTERNS = {
    "linear": r"\b(LogisticRegression|Ridge\w*|Lasso\w*|ElasticNet\w*|LinearRegression|SGD\w+)\b",
    "random_forest": r"\bRandomForest\w+",
    "extra_trees": r"\bExtraTrees\w+",
    "gradient_boosting": r"\b(Hist)?GradientBoosting\w+",
    "lightgbm": r"\b(LGBM\w+|lightgbm)\b",
    "xgboost": r"\b(XGB\w+|xgboost)\b",
    "catboost": r"\b(CatBoost\w+|catboost)\b",
    "knn": r"\bKNeighbors\w+",
    "svm": r"\b(SVC|SVR|LinearSVC|LinearSVR|NuSVC)\b",
    "neural_net": r"\b(MLPClassifier|MLPRegressor|torch|tensorflow|keras)\b",
    "naive_bayes": r"\b(GaussianNB|MultinomialNB|BernoulliNB)\b",
}
_COMPILED = {name: re.compile(pattern) for name, pattern in FAMILY_PATTERNS.items()}


class DraftDiversity(Struct, frozen=True):
    """`families`: distinct model families over the drafts' code; `plan_distance`: mean pairwise
    Jaccard distance of the drafts' plan vocabularies (0 = identical, 1 = disjoint)."""

    drafts: int = 0
    families: int = 0
    plan_distance: float = 0.0


@lru_cache(maxsize=8192)
def model_families(code: str) -> frozenset[str]:
    """The model families a script uses, recognised by their library class names (memoised: a run's
    summary is refreshed after every node, over all its drafts)."""
    return frozenset(name for name, pattern in _COMPILED.items() if pattern.search(code))


@lru_cache(maxsize=8192)
def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z]{3,}", text.lower()))


def draft_diversity(drafts: list[tuple[str, str]]) -> DraftDiversity:
    """Diversity of (plan, code) pairs of generated drafts."""
    if not drafts:
        return DraftDiversity()
    families: set[str] = set()
    for _, code in drafts:
        families |= model_families(code)
    vocabularies = [_words(plan) for plan, _ in drafts]
    pairs = list(combinations(vocabularies, 2))
    distance = sum(1 - len(a & b) / len(a | b) if a | b else 0.0 for a, b in pairs) / len(pairs) if pairs else 0.0
    return DraftDiversity(drafts=len(drafts), families=len(families), plan_distance=round(distance, 4))
