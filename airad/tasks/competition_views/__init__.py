"""Harness-owned validation views of MLE-bench competitions, one `Split` per layout of labelled data.

Most competitions keep their labels in a table keyed by id (`tables`); the others have a layout of their
own, named here by competition id and imported only when used.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from airad.tasks.competition_views.base import Held, Source, Split, ViewError, ViewFacts, find_sample, write_view
from airad.tasks.competitions.spec import Competition

__all__ = ["Held", "Source", "Split", "ViewError", "ViewFacts", "find_sample", "plan_view", "write_view"]

SplitFactory = Callable[[Competition, Source], Split]

SENTENCES = ("airad.tasks.competition_views.sentences", "text_normalization_split")
LAYOUTS: dict[str, tuple[str, str]] = {
    "denoising-dirty-documents": ("airad.tasks.competition_views.pixels", "denoising_split"),
    "dogs-vs-cats-redux-kernels-edition": ("airad.tasks.competition_views.file_labels", "dogs_vs_cats_split"),
    "the-icml-2013-whale-challenge-right-whale-redux": ("airad.tasks.competition_views.file_labels", "whale_split"),
    "text-normalization-challenge-english-language": SENTENCES,
    "text-normalization-challenge-russian-language": SENTENCES,
    "mlsp-2013-birds": ("airad.tasks.competition_views.birds", "birds_split"),
}
TABLES = ("airad.tasks.competition_views.tables", "table_split")


def plan_view(competition: Competition, source: Source) -> Split:
    """The split for this competition's layout; `ViewError` saying why its files do not allow one."""
    module, name = LAYOUTS.get(competition.id, TABLES)
    try:
        factory: SplitFactory = getattr(import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ViewError(f"no validation split for this layout yet ({exc})") from None
    return factory(competition, source)
