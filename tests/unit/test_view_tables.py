"""Validation views of competitions whose labels are rows of a table: one-hot answers, JSON records,
a text id with repeats, ids that collide between train and test, a side table keyed by id, nested
image folders, archives and files that would leak held-out labels."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from airad.schemas.request import MleBenchTask
from airad.tasks.competition_views import ViewError
from airad.tasks.mlebench import mlebench_task_problem, prepare_mlebench

SPOOKY = ("EAP", "HPL", "MWS")


def _dirs(root):
    public, private = root / "public", root / "private"
    public.mkdir(parents=True)
    private.mkdir()
    return public, private


def _prepare(root, competition, tmp_path, seed=0, fraction=0.25):
    spec = MleBenchTask(competition=competition, data_dir=str(root), validation_fraction=fraction)
    return prepare_mlebench(spec, seed=seed, tasks_root=tmp_path / "tasks")


def _answers(task, split):
    answers = pd.read_csv(task.root / "private" / "answers.csv", dtype=str, keep_default_na=False)
    return answers[answers["split"] == split].drop(columns=["split"])


def _public_bytes(task) -> bytes:
    """Every public file of the view, archives unpacked, as one blob to search for leaks."""
    blob = b""
    for path in sorted(task.public_dir.rglob("*")):
        if path.is_file():
            blob += path.name.encode() + b"\n" + path.read_bytes()
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as archive:
                    blob += b"".join(archive.read(n) for n in archive.namelist())
    return blob


def spooky(root, n=40):
    """spooky-author-identification: train.csv (id, text, author), test.csv (id, text), one-hot answers."""
    public, private = _dirs(root)
    authors = [SPOOKY[i % 3] for i in range(n + 10)]
    ids = [f"id{i:05d}" for i in range(n + 10)]
    texts = [f"sentence {i} by {a.lower()}" for i, a in enumerate(authors)]
    pd.DataFrame({"id": ids[:n], "text": texts[:n], "author": authors[:n]}).to_csv(public / "train.csv", index=False)
    pd.DataFrame({"id": ids[n:], "text": texts[n:]}).to_csv(public / "test.csv", index=False)
    one_hot = pd.DataFrame({"id": ids[n:], **{a: [int(x == a) for x in authors[n:]] for a in SPOOKY}})
    one_hot.to_csv(private / "test.csv", index=False)
    one_hot.assign(EAP=0.4, HPL=0.3, MWS=0.3).to_csv(public / "sample_submission.csv", index=False)
    return root


def test_one_hot_answers_are_built_from_the_label_column(tmp_path):
    root = spooky(tmp_path / "spooky")
    task = _prepare(root, "spooky-author-identification", tmp_path)
    validation = _answers(task, "validation")
    train = pd.read_csv(root / "public" / "train.csv").set_index("id")
    assert len(validation) == 10 and list(validation.columns) == ["id", *SPOOKY]
    for _, row in validation.iterrows():
        assert [int(row[a]) for a in SPOOKY] == [int(train.loc[row["id"], "author"] == a) for a in SPOOKY]
    view_train = pd.read_csv(task.public_dir / "train.csv")
    view_test = pd.read_csv(task.public_dir / "test.csv")
    assert not set(view_train["id"]) & set(validation["id"]) and set(validation["id"]) <= set(view_test["id"])
    assert list(view_test.columns) == ["id", "text"]

    answers = pd.read_csv(task.root / "private" / "answers.csv")
    perfect = answers[["id", *SPOOKY]].astype({a: float for a in SPOOKY})
    grades = task.grade(perfect.to_csv(index=False).encode())
    assert grades.validation.score == pytest.approx(0.0, abs=1e-9) and grades.test.score == pytest.approx(0.0, abs=1e-9)
    uniform = perfect.assign(**{a: 1 / 3 for a in SPOOKY})
    assert task.grade(uniform.to_csv(index=False).encode()).validation.score == pytest.approx(np.log(3))


def dog_breeds(root, n=30):
    """dog-breed-identification: labels.csv (id, breed), train/ and test/ images, one-hot answers, no test table."""
    public, private = _dirs(root)
    breeds = ["beagle", "pug", "collie"]
    (public / "train").mkdir()
    (public / "test").mkdir()
    labels = pd.DataFrame({"id": [f"{i:08x}" for i in range(n)], "breed": [breeds[i % 3] for i in range(n)]})
    for i in labels["id"]:
        (public / "train" / f"{i}.jpg").write_bytes(b"jpg" + i.encode())
    test_ids = [f"t{i:07x}" for i in range(8)]
    for i in test_ids:
        (public / "test" / f"{i}.jpg").write_bytes(b"jpg" + i.encode())
    labels.to_csv(public / "labels.csv", index=False)
    answers = pd.DataFrame({"id": test_ids, **{b: [int(k % 3 == j) for k in range(8)] for j, b in enumerate(breeds)}})
    answers.to_csv(private / "test.csv", index=False)
    answers.assign(**{b: 1 / 3 for b in breeds}).to_csv(public / "sample_submission.csv", index=False)
    return root


def test_images_of_held_rows_move_to_the_test_folder_and_answers_are_one_hot(tmp_path):
    root = dog_breeds(tmp_path / "dogs")
    task = _prepare(root, "dog-breed-identification", tmp_path, fraction=0.2)
    validation = _answers(task, "validation")
    assert len(validation) == 6 and list(validation.columns) == ["id", "beagle", "pug", "collie"]
    test_files = {p.stem for p in (task.public_dir / "test").iterdir()}
    train_files = {p.stem for p in (task.public_dir / "train").iterdir()}
    assert set(validation["id"]) <= test_files and not set(validation["id"]) & train_files
    assert set(pd.read_csv(task.public_dir / "labels.csv")["id"]) == train_files
    sample = pd.read_csv(task.public_dir / "sample_submission.csv")
    assert set(sample["id"]) == test_files and len(sample) == 14


def pizza(root, n=40):
    """random-acts-of-pizza: train.json / test.json records (+ their zips), sampleSubmission.csv."""
    public, private = _dirs(root)
    records = [
        {"request_id": f"t3_{i:04x}", "request_text_edit_aware": f"please {i}",
         "requester_subreddits_at_request": ["a", "b"], "requester_received_pizza": bool(i % 3 == 0),
         "number_of_upvotes_of_request_at_retrieval": i}
        for i in range(n + 10)
    ]
    test_fields = ("request_id", "request_text_edit_aware", "requester_subreddits_at_request")
    (public / "train.json").write_text(json.dumps(records[:n], indent=4))
    (public / "test.json").write_text(json.dumps([{k: r[k] for k in test_fields} for r in records[n:]], indent=4))
    for name in ("train", "test"):
        with zipfile.ZipFile(public / f"{name}.zip", "w") as archive:
            archive.write(public / f"{name}.json", arcname=f"{name}.json")
    answers = pd.DataFrame({"request_id": [r["request_id"] for r in records[n:]],
                            "requester_received_pizza": [int(r["requester_received_pizza"]) for r in records[n:]]})
    answers.to_csv(private / "test.csv", index=False)
    answers.assign(requester_received_pizza=0).to_csv(public / "sampleSubmission.csv", index=False)
    return root, records


def test_json_records_split_and_their_archives_are_left_out(tmp_path):
    root, records = pizza(tmp_path / "pizza")
    task = _prepare(root, "random-acts-of-pizza", tmp_path)
    validation = _answers(task, "validation")
    truth = {r["request_id"]: int(r["requester_received_pizza"]) for r in records}
    assert len(validation) == 10 and all(int(v) == truth[i] for i, v in validation.values)
    train = json.loads((task.public_dir / "train.json").read_text())
    test = json.loads((task.public_dir / "test.json").read_text())
    assert len(train) == 30 and len(test) == 20
    assert set(validation["request_id"]) <= {r["request_id"] for r in test}
    assert all("requester_received_pizza" not in r for r in test)
    assert test[0]["requester_subreddits_at_request"] == ["a", "b"]
    assert not (task.public_dir / "train.zip").exists() and not (task.public_dir / "test.zip").exists()
    assert "train.zip" in task.brief().description and "test.zip" in task.brief().description
    assert len(pd.read_csv(task.public_dir / "sampleSubmission.csv")) == 20
    answers = pd.read_csv(task.root / "private" / "answers.csv")
    grades = task.grade(answers[["request_id", "requester_received_pizza"]].to_csv(index=False).encode())
    assert grades.validation.score == pytest.approx(1.0) and grades.test.score == pytest.approx(1.0)


def insults(root):
    """detecting-insults-in-social-commentary: rows keyed by the comment text, which repeats in train."""
    public, private = _dirs(root)
    comments = [f'"you are {"awful" if i % 2 else "kind"}, {i}"' for i in range(30)]
    comments[5] = comments[4]
    train = pd.DataFrame({"Insult": [i % 2 for i in range(30)], "Date": "20120618192155Z", "Comment": comments})
    train.loc[5, "Insult"] = train.loc[4, "Insult"]
    train.to_csv(public / "train.csv", index=False)
    comments = ['"test 0"', '"test 1"', '"test 1"', '"test 3"']
    test = pd.DataFrame({"Insult": [0, 1, 0, 1], "Date": "", "Comment": comments, "Usage": "PrivateTest"})
    test.to_csv(private / "test.csv", index=False)
    test[["Date", "Comment"]].to_csv(public / "test.csv", index=False)
    test[["Insult", "Date", "Comment"]].assign(Insult=0).to_csv(public / "sample_submission_null.csv", index=False)
    return root


def test_a_repeated_text_id_is_held_out_whole(tmp_path):
    root = insults(tmp_path / "insults")
    for seed in range(6):
        task = _prepare(root, "detecting-insults-in-social-commentary", tmp_path, seed=seed, fraction=0.3)
        validation = _answers(task, "validation")
        train = pd.read_csv(task.public_dir / "train.csv")
        assert not set(train["Comment"]) & set(validation["Comment"])
        assert validation["Comment"].is_unique and len(validation) + train["Comment"].nunique() == 29
        test = pd.read_csv(task.public_dir / "test.csv")
        assert test["Comment"].value_counts().max() == 2 and len(test) == 4 + len(validation), (
            "a held text joins test.csv once, as it joins the sample once; only the test set's own repeat stays"
        )
        sample = pd.read_csv(task.public_dir / "sample_submission_null.csv")
        assert list(sample.columns) == ["Insult", "Date", "Comment"] and len(sample) == 4 + len(validation)


def test_a_text_the_answers_repeat_may_repeat_in_the_submission_and_no_other(tmp_path):
    task = _prepare(insults(tmp_path / "insults"), "detecting-insults-in-social-commentary", tmp_path)
    answers = pd.read_csv(task.root / "private" / "answers.csv")
    perfect = answers[["Insult", "Date", "Comment"]].astype({"Insult": float})
    grades = task.grade(perfect.to_csv(index=False).encode())
    assert grades.test.valid and grades.test.score == pytest.approx(1.0)
    assert grades.validation.score == pytest.approx(1.0)
    twice = perfect.copy()
    twice.loc[twice["Comment"] != '"test 1"', "Comment"] = perfect["Comment"].iloc[0]
    rejected = task.grade(twice.to_csv(index=False).encode())
    assert not rejected.validation.valid and "repeats Comment values" in rejected.validation.error


def nomad(root, n=30, m=8):
    """nomad2018: train and test ids both count from 1; geometry in train/<id>/ and test/<id>/."""
    public, private = _dirs(root)
    frame = pd.DataFrame({"id": range(1, n + m + 1), "x": np.arange(n + m) * 0.1,
                          "formation_energy_ev_natom": np.arange(n + m) * 0.01 + 0.1,
                          "bandgap_energy_ev": np.arange(n + m) * 0.02 + 1})
    train = frame.iloc[:n].copy()
    test = frame.iloc[n:].copy()
    test["id"] = range(1, m + 1)
    train.to_csv(public / "train.csv", index=False)
    test.drop(columns=["formation_energy_ev_natom", "bandgap_energy_ev"]).to_csv(public / "test.csv", index=False)
    test.to_csv(private / "test.csv", index=False)
    sample = test[["id"]].assign(formation_energy_ev_natom=0.18, bandgap_energy_ev=1.9)
    sample.to_csv(public / "sample_submission.csv", index=False)
    for side, ids, offset in (("train", train["id"], 0), ("test", test["id"], 1000)):
        for i in ids:
            (public / side / str(i)).mkdir(parents=True)
            (public / side / str(i) / "geometry.xyz").write_text(f"atom {i + offset}\n")
    return root


def test_colliding_ids_get_fresh_test_ids_and_their_folders_follow(tmp_path):
    root = nomad(tmp_path / "nomad")
    task = _prepare(root, "nomad2018-predict-transparent-conductors", tmp_path)
    validation = _answers(task, "validation")
    new_ids = sorted(int(i) for i in validation["id"])
    assert new_ids == list(range(9, 9 + len(validation))) and len(validation) == 8
    test = pd.read_csv(task.public_dir / "test.csv")
    assert sorted(test["id"]) == list(range(1, 17)) and "bandgap_energy_ev" not in test.columns
    assert sorted(int(p.name) for p in (task.public_dir / "test").iterdir()) == list(range(1, 17))
    assert len(list((task.public_dir / "train").iterdir())) == 22
    original = pd.read_csv(root / "public" / "train.csv")
    for _, row in validation.iterrows():
        x = test.set_index("id").loc[int(row["id"]), "x"]
        source = original[np.isclose(original["x"], x)].iloc[0]
        assert float(row["bandgap_energy_ev"]) == pytest.approx(source["bandgap_energy_ev"])
        geometry = (task.public_dir / "test" / row["id"] / "geometry.xyz").read_text()
        assert geometry == f"atom {int(source['id'])}\n"
    answers = pd.read_csv(task.root / "private" / "answers.csv")
    perfect = answers[["id", "formation_energy_ev_natom", "bandgap_energy_ev"]]
    order = pd.read_csv(task.public_dir / "sample_submission.csv")["id"]
    in_order = perfect.set_index("id").loc[order].reset_index()  # MLE-bench's nomad grader pairs rows by position
    grades = task.grade(in_order.to_csv(index=False).encode())
    assert grades.validation.score == pytest.approx(0.0) and grades.test.score == pytest.approx(0.0)
    shuffled = task.grade(in_order.iloc[::-1].to_csv(index=False).encode())
    assert shuffled.validation.score > 0, "rows out of the sample's order are paired wrongly, as in MLE-bench"


def siim(root, n=20, m=6):
    """siim-isic: dcm in train/ test/, jpegs in jpeg/train jpeg/test, labelled TFRecords, a side table."""
    public, private = _dirs(root)
    names = [f"ISIC_{i:07d}" for i in range(n + m)]
    target = [int(i % 4 == 0) for i in range(n + m)]
    train = pd.DataFrame({"image_name": names[:n], "patient_id": "IP_1", "sex": "male", "target": target[:n]})
    train.to_csv(public / "train.csv", index=False)
    test = pd.DataFrame({"image_name": names[n:], "patient_id": "IP_2", "sex": "female"})
    test.to_csv(public / "test.csv", index=False)
    pd.DataFrame({"image_name": names[:n], "lesion": "nevus"}).to_csv(public / "lesions.csv", index=False)
    pd.DataFrame({"image_name": names[n:], "target": target[n:]}).to_csv(private / "test.csv", index=False)
    pd.DataFrame({"image_name": names[n:], "target": 0}).to_csv(public / "sample_submission.csv", index=False)
    for i, name in enumerate(names):
        side = "train" if i < n else "test"
        for folder, ext in ((public / side, "dcm"), (public / "jpeg" / side, "jpg")):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}.{ext}").write_bytes(name.encode())
    (public / "tfrecords").mkdir()
    (public / "tfrecords" / "train00-20.tfrec").write_bytes(b"records with target")
    return root


def test_nested_image_folders_follow_and_label_bearing_files_are_left_out(tmp_path):
    root = siim(tmp_path / "siim")
    task = _prepare(root, "siim-isic-melanoma-classification", tmp_path)
    held = set(_answers(task, "validation")["image_name"])
    assert len(held) == 5
    for folder in ("test", "jpeg/test"):
        assert held <= {p.stem for p in (task.public_dir / folder).iterdir()}
        assert len(list((task.public_dir / folder).iterdir())) == 11
    for folder in ("train", "jpeg/train"):
        assert not held & {p.stem for p in (task.public_dir / folder).iterdir()}
    assert not held & set(pd.read_csv(task.public_dir / "lesions.csv")["image_name"])
    assert not (task.public_dir / "tfrecords").exists() and "tfrecords" in task.brief().description
    assert len(pd.read_csv(task.public_dir / "test.csv")) == 11


def test_no_public_file_reveals_a_held_label(tmp_path):
    root = spooky(tmp_path / "spooky")
    task = _prepare(root, "spooky-author-identification", tmp_path)
    blob = _public_bytes(task)
    for held in _answers(task, "validation")["id"]:
        row = pd.read_csv(root / "public" / "train.csv").set_index("id").loc[held]
        assert f"{held},{row['text']},{row['author']}".encode() not in blob
        assert blob.count(held.encode()) == 2, "in test.csv and sample_submission.csv only"


def test_the_split_follows_the_seed(tmp_path):
    root = spooky(tmp_path / "spooky")
    def held(seed):
        return set(_answers(_prepare(root, "spooky-author-identification", tmp_path, seed=seed), "validation")["id"])
    assert held(1) == held(1) and held(1) != held(2)


def test_a_table_without_the_labels_is_named_in_the_reason(tmp_path):
    root = spooky(tmp_path / "spooky")
    train = pd.read_csv(root / "public" / "train.csv").drop(columns=["author"])
    train.to_csv(root / "public" / "train.csv", index=False)
    field, reason = mlebench_task_problem(MleBenchTask(competition="spooky-author-identification", data_dir=str(root)))
    assert field == "$.task.competition" and "'author'" in reason and "another format" in reason
    with pytest.raises(ViewError):
        _prepare(root, "spooky-author-identification", tmp_path)


def test_at_most_max_validation_examples_are_held_out(tmp_path):
    root = spooky(tmp_path / "spooky", n=200)
    capped = MleBenchTask(competition="spooky-author-identification", data_dir=str(root), validation_fraction=0.5,
                          max_validation_examples=7)
    task = prepare_mlebench(capped, seed=0, tasks_root=tmp_path / "tasks")
    assert len(_answers(task, "validation")) == 7 and len(pd.read_csv(task.public_dir / "train.csv")) == 193
    uncapped = MleBenchTask(competition="spooky-author-identification", data_dir=str(root), validation_fraction=0.5,
                            max_validation_examples=None)
    assert len(_answers(prepare_mlebench(uncapped, seed=0, tasks_root=tmp_path / "tasks"), "validation")) == 100


def test_a_big_labelled_table_is_streamed_in_chunks_and_held_out_by_row(tmp_path, monkeypatch):
    from airad.tasks.competition_views import tables

    monkeypatch.setattr(tables, "STREAM_OVER_BYTES", 0)
    monkeypatch.setattr(tables, "CHUNK_ROWS", 7)
    from tests.synthetic_competitions import tabular_playground

    root = tabular_playground(tmp_path / "playground", n_train=300, n_test=100)
    original = pd.read_csv(root / "public" / "train.csv")
    pd.concat([original, original], ignore_index=True).to_csv(root / "public" / "train.csv", index=False)
    split = tables.table_split(competition_of("tabular-playground-series-may-2022"), source_of(root))
    assert split.streamed and len(split.units()) == 600 and split.units()[599] == "599"

    task = _prepare(root, "tabular-playground-series-may-2022", tmp_path, seed=4, fraction=0.1)
    validation = _answers(task, "validation")
    train = pd.read_csv(task.public_dir / "train.csv")
    test = pd.read_csv(task.public_dir / "test.csv")
    held = set(validation["id"].astype(int))
    assert 30 <= len(held) <= 60 and held <= set(test["id"])
    assert not held & set(train["id"]), "every id of the table is there twice: a held row's twin leaves too"
    assert set(train["id"]) | held == set(original["id"]), "every labelled row is on one side"
    truth = original.set_index("id")["target"]
    assert all(int(t) == truth[int(i)] for i, t in validation[["id", "target"]].values)


def competition_of(name):
    from airad.tasks.competitions import competition

    return competition(name)


def source_of(root):
    from airad.tasks.mlebench import find_source

    return find_source(MleBenchTask(competition="tabular-playground-series-may-2022", data_dir=str(root)))


def zipped_cactus(root, n_train=40, n_test=10):
    """aerial-cactus-identification as MLE-bench leaves it: its images only in train.zip and test.zip
    (members named by id at the archive's root), labels in train.csv."""
    public, private = _dirs(root)
    ids = [f"{i:032x}.jpg" for i in range(n_train + n_test)]
    labels = [int(i % 3 != 0) for i in range(n_train + n_test)]
    for name, part in (("train.zip", ids[:n_train]), ("test.zip", ids[n_train:])):
        with zipfile.ZipFile(public / name, "w", zipfile.ZIP_DEFLATED) as archive:
            for image in part:
                archive.writestr(image, b"\xff\xd8cactus" + image.encode())
    pd.DataFrame({"id": ids[:n_train], "has_cactus": labels[:n_train]}).to_csv(public / "train.csv", index=False)
    pd.DataFrame({"id": ids[n_train:], "has_cactus": 0.5}).to_csv(public / "sample_submission.csv", index=False)
    pd.DataFrame({"id": ids[n_train:], "has_cactus": labels[n_train:]}).to_csv(private / "test.csv", index=False)
    return root


def test_images_kept_only_in_zips_move_between_the_archives(tmp_path):
    root = zipped_cactus(tmp_path / "cactus")
    task = _prepare(root, "aerial-cactus-identification", tmp_path)
    held = set(_answers(task, "validation")["id"])
    with zipfile.ZipFile(task.public_dir / "train.zip") as train, zipfile.ZipFile(task.public_dir / "test.zip") as test:
        train_names, test_names = set(train.namelist()), set(test.namelist())
        moved = next(iter(held))
        assert test.read(moved) == b"\xff\xd8cactus" + moved.encode()
    assert len(held) == 10 and held <= test_names and not held & train_names
    assert len(train_names) == 30 and len(test_names) == 20
    assert set(pd.read_csv(task.public_dir / "train.csv")["id"]) == train_names
    assert not task.facts.left_out, "the archives are rewritten, not left out"
    answers = pd.read_csv(task.root / "private" / "answers.csv")
    grades = task.grade(answers[["id", "has_cactus"]].to_csv(index=False).encode())
    assert grades.validation.score == pytest.approx(1.0) and grades.test.score == pytest.approx(1.0)
