"""Small competitions laid out exactly as MLE-bench's `prepare` step leaves them, made by tests:
`public/` (description.md, the training and test inputs, sample_submission.csv), `private/test.csv`
(the answers) and the competition's `leaderboard.csv`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

LEADERBOARD_COLUMNS = ["scoreNullable", "teamId", "teamName", "submissionDate", "score"]


def leaderboard(scores: list[float]) -> pd.DataFrame:
    """A Kaggle leaderboard in rank order, one team per score."""
    rows = [(s, 1000 + i, f"team-{i}", "2022-05-31 23:59:00", s) for i, s in enumerate(scores)]
    return pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS)


def tabular_playground(root: Path, n_train: int = 300, n_test: int = 100, seed: int = 7) -> Path:
    """tabular-playground-series-may-2022 in miniature: binary target, ROC AUC, ids shared by
    train.csv / test.csv / sample_submission.csv; a 60-team leaderboard (higher is better)."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    features = pd.DataFrame(rng.normal(size=(n, 5)), columns=[f"f_{i:02d}" for i in range(5)])
    target = (features["f_00"] + 0.5 * features["f_01"] + rng.normal(scale=0.7, size=n) > 0).astype(int)
    frame = features.assign(target=target)
    frame.insert(0, "id", np.arange(n))
    train, test = frame.iloc[:n_train], frame.iloc[n_train:]
    public, private = root / "public", root / "private"
    public.mkdir(parents=True)
    private.mkdir()
    train.to_csv(public / "train.csv", index=False)
    test.drop(columns=["target"]).to_csv(public / "test.csv", index=False)
    pd.DataFrame({"id": test["id"], "target": 0.5}).to_csv(public / "sample_submission.csv", index=False)
    test[["id", "target"]].to_csv(private / "test.csv", index=False)
    (public / "description.md").write_text(
        "# Tabular Playground Series - May 2022\n\nPredict the probability that `target` is 1 for each row of "
        "test.csv.\n\n## Evaluation\n\nSubmissions are evaluated on the area under the ROC curve (ROC AUC) "
        "between the predicted probability and the observed target.\n"
    )
    leaderboard(list(np.linspace(0.995, 0.60, 60))).to_csv(root / "leaderboard.csv", index=False)
    return root


def aerial_cactus(root: Path, n_train: int = 40, n_test: int = 10) -> Path:
    """aerial-cactus-identification in miniature, its archives unpacked into train/ and test/ (MLE-bench
    itself leaves only train.zip and test.zip: see test_view_tables.zipped_cactus): image files named
    by their id (`<hex>.jpg`), labels in train.csv, answers keyed by the same file names."""
    public, private = root / "public", root / "private"
    for folder in (public / "train", public / "test", private):
        folder.mkdir(parents=True)
    ids = [f"{i:032x}.jpg" for i in range(n_train + n_test)]
    labels = [i % 3 != 0 for i in range(n_train + n_test)]
    for i, name in enumerate(ids):
        (public / ("train" if i < n_train else "test") / name).write_bytes(b"\xff\xd8fake-jpeg" + bytes([i % 256]))
    pd.DataFrame({"id": ids[:n_train], "has_cactus": labels[:n_train]}).astype({"has_cactus": int}).to_csv(
        public / "train.csv", index=False)
    pd.DataFrame({"id": ids[n_train:], "has_cactus": 0.5}).to_csv(public / "sample_submission.csv", index=False)
    pd.DataFrame({"id": ids[n_train:], "has_cactus": labels[n_train:]}).astype({"has_cactus": int}).to_csv(
        private / "test.csv", index=False)
    (public / "description.md").write_text("# Aerial Cactus Identification\n")
    return root


def leaf_classification(root: Path, n_train: int = 240, n_test: int = 60, seed: int = 5) -> Path:
    """leaf-classification in miniature: train.csv (id, species, numeric features), test.csv, every
    image in one images/ folder, answers one-hot over the species (multi-class log loss), and a
    60-team leaderboard where lower is better."""
    rng = np.random.default_rng(seed)
    species = ["Acer_Opalus", "Quercus_Rubra", "Populus_Nigra", "Ulmus_Bergmanniana"]
    n = n_train + n_test
    kind = rng.integers(0, len(species), size=n)
    centres = rng.normal(scale=2.0, size=(len(species), 6))
    features = pd.DataFrame(centres[kind] + rng.normal(size=(n, 6)), columns=[f"margin{i}" for i in range(1, 7)])
    frame = features.assign(species=[species[k] for k in kind])
    frame.insert(0, "id", rng.permutation(np.arange(1, n + 1)))
    train, test = frame.iloc[:n_train], frame.iloc[n_train:]
    public, private = root / "public", root / "private"
    (public / "images").mkdir(parents=True)
    private.mkdir()
    for i in frame["id"]:
        (public / "images" / f"{i}.jpg").write_bytes(b"\xff\xd8leaf" + int(i).to_bytes(4, "big"))
    train[["id", "species", *features.columns]].to_csv(public / "train.csv", index=False)
    test.drop(columns=["species"]).to_csv(public / "test.csv", index=False)
    one_hot = pd.DataFrame({"id": test["id"], **{s: (test["species"] == s).astype(int) for s in species}})
    one_hot.to_csv(private / "test.csv", index=False)
    one_hot.assign(**{s: 1 / len(species) for s in species}).to_csv(public / "sample_submission.csv", index=False)
    (public / "description.md").write_text(
        "# Leaf Classification\n\nPredict the probability of each species for every leaf in test.csv.\n\n"
        "## Evaluation\n\nMulti-class logarithmic loss.\n"
    )
    leaderboard(list(np.linspace(0.001, 1.2, 60))).to_csv(root / "leaderboard.csv", index=False)
    return root
