"""Model families as plans name them: an id per family, its display name and the phrases that name it."""

from __future__ import annotations

import re

FAMILIES: dict[str, tuple[str, str]] = {  # id: (display name, pattern)
    "linear": (
        "linear model",
        r"\blinear model|\blogistic regression|\bridge\b|\blinear regression|\blasso\b|\belastic ?net",
    ),
    "random_forest": ("random forest", r"random[- ]forest"),
    "extra_trees": ("extra trees", r"extra[- ]?trees|extremely randomi[sz]ed"),
    "hist_gb": ("histogram gradient boosting", r"hist(ogram)?[- ]?(based )?gradient[- ]?boosting|histgradientboosting"),
    "lightgbm": ("LightGBM", r"lightgbm|\blgbm"),
    "xgboost": ("XGBoost", r"xgboost|\bxgb\b"),
    "catboost": ("CatBoost", r"catboost"),
    "knn": ("k-nearest neighbours", r"nearest[- ]neighbou?r|\bknn\b|\bk-nn\b"),
    "svm": ("support vector machine", r"support vector|\bsvm\b|\bsvc\b|\bsvr\b"),
    "neural_net": ("neural network", r"neural net|\bmlp\b|multi-?layer perceptron"),
}
_STATED = re.compile(r"model family:\s*([^.\n]+)", re.IGNORECASE)


def family_of(plan: str) -> str | None:
    """The model family a plan names: in its `Model family:` phrase, else the earliest one it mentions."""
    stated = _STATED.search(plan)
    text = stated.group(1) if stated else plan
    found = []
    for family, (_, pattern) in FAMILIES.items():
        match = re.search(pattern, text, re.IGNORECASE)
        if match:
            found.append((match.start(), family))
    return min(found)[1] if found else None


def family_name(family: str) -> str:
    """A family's display name (the id itself when unknown)."""
    return FAMILIES.get(family, (family, ""))[0]
