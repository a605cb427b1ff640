"""The 22 MLE-bench lite competitions: submission format, answers layout and metric of each.

Answers are what MLE-bench's prepare step writes under `private/`; the layouts below name the
columns the grader reads (others are ignored).
"""

from __future__ import annotations

from airad.tasks.competitions.scoring import SCORERS
from airad.tasks.competitions.spec import Competition

JIGSAW_CLASSES = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
PLANT_CLASSES = ("healthy", "multiple_diseases", "rust", "scab")
RANZCR_SCORED = (
    "ETT - Abnormal",
    "ETT - Borderline",
    "ETT - Normal",
    "NGT - Abnormal",
    "NGT - Borderline",
    "NGT - Incompletely Imaged",
    "NGT - Normal",
    "CVC - Abnormal",
    "CVC - Borderline",
)
RANZCR_UNSCORED = ("CVC - Normal", "Swan Ganz Catheter Present")
SPOOKY_AUTHORS = ("EAP", "HPL", "MWS")


def _entry(
    id: str,
    metric: str,
    id_column: str,
    target_columns: tuple[str, ...],
    answers_file: str,
    answers_layout: str,
    **options,
) -> Competition:
    return Competition(
        id=id,
        metric=metric,
        lower_is_better=SCORERS[metric].lower_is_better,
        id_column=id_column,
        target_columns=target_columns,
        answers_file=answers_file,
        answers_layout=answers_layout,
        **options,
    )


_ENTRIES = (
    _entry("aerial-cactus-identification", "roc_auc", "id", ("has_cactus",), "test.csv", "id, has_cactus (0/1)"),
    _entry(
        "aptos2019-blindness-detection",
        "quadratic_weighted_kappa",
        "id_code",
        ("diagnosis",),
        "test.csv",
        "id_code, diagnosis (grade 0-4)",
        labels=(0, 1, 2, 3, 4),
    ),
    _entry(
        "denoising-dirty-documents",
        "rmse",
        "id",
        ("value",),
        "answers.csv",
        "id ('<image>_<row>_<col>', 1-based, one row per pixel), value (clean intensity in [0, 1])",
        most_held_out=6,  # ~200,000 pixel rows a page: the 29 test pages already make a ~150 MB submission
    ),
    _entry(
        "detecting-insults-in-social-commentary",
        "roc_auc",
        "Comment",
        ("Insult",),
        "test.csv",
        "Insult (0/1), Date, Comment, Usage; rows keyed by the comment text, a repeated text paired in order",
        optional_columns=("Date",),
    ),
    _entry(
        "dog-breed-identification",
        "multiclass_log_loss",
        "id",
        (),
        "test.csv",
        "id + one 0/1 column per breed (120, one-hot); or id, breed",
        label_column="breed",
    ),
    _entry("dogs-vs-cats-redux-kernels-edition", "log_loss", "id", ("label",), "answers.csv", "id, label (1 = dog)"),
    _entry("histopathologic-cancer-detection", "roc_auc", "id", ("label",), "answers.csv", "id, label (0/1)"),
    _entry(
        "jigsaw-toxic-comment-classification-challenge",
        "mean_columnwise_roc_auc",
        "id",
        JIGSAW_CLASSES,
        "test.csv",
        "id + the six 0/1 label columns; rows labelled -1 are not scored",
    ),
    _entry(
        "leaf-classification",
        "multiclass_log_loss",
        "id",
        (),
        "test.csv",
        "id + one 0/1 column per species (99, one-hot); or id, species",
        label_column="species",
    ),
    _entry(
        "mlsp-2013-birds",
        "roc_auc",
        "Id",
        ("Probability",),
        "answers.csv",
        "Id (rec_id * 100 + species 0-18), Probability (0/1); AUC over all flattened rows",
    ),
    _entry(
        "new-york-city-taxi-fare-prediction",
        "rmse",
        "key",
        ("fare_amount",),
        "test.csv",
        "key, fare_amount + the ride's features",
    ),
    _entry(
        "nomad2018-predict-transparent-conductors",
        "rmsle_mean_columns",
        "id",
        ("formation_energy_ev_natom", "bandgap_energy_ev"),
        "test.csv",
        "id, formation_energy_ev_natom, bandgap_energy_ev + the features",
    ),
    _entry(
        "plant-pathology-2020-fgvc7",
        "mean_columnwise_roc_auc",
        "image_id",
        PLANT_CLASSES,
        "test.csv",
        "image_id + the four 0/1 label columns",
    ),
    _entry(
        "random-acts-of-pizza",
        "roc_auc",
        "request_id",
        ("requester_received_pizza",),
        "test.csv",
        "request_id, requester_received_pizza (0/1 or true/false)",
    ),
    _entry(
        "ranzcr-clip-catheter-line-classification",
        "mean_columnwise_roc_auc",
        "StudyInstanceUID",
        RANZCR_SCORED,
        "test.csv",
        "StudyInstanceUID + all eleven 0/1 label columns + PatientID; the nine MLE-bench grades are scored",
        optional_columns=RANZCR_UNSCORED,
    ),
    _entry(
        "siim-isic-melanoma-classification",
        "roc_auc",
        "image_name",
        ("target",),
        "test.csv",
        "image_name, target (0/1)",
        left_out=("tfrecords",),  # the training images' TFRecords carry `target`
    ),
    _entry(
        "spooky-author-identification",
        "multiclass_log_loss",
        "id",
        SPOOKY_AUTHORS,
        "test.csv",
        "id, EAP, HPL, MWS (one-hot); or id, author",
        label_column="author",
    ),
    _entry(
        "tabular-playground-series-dec-2021",
        "accuracy",
        "Id",
        ("Cover_Type",),
        "test.csv",
        "Id, Cover_Type (1-7) + the features",
        labels=(1, 2, 3, 4, 5, 6, 7),
    ),
    _entry(
        "tabular-playground-series-may-2022",
        "roc_auc",
        "id",
        ("target",),
        "test.csv",
        "id, target (0/1) + the features",
    ),
    _entry(
        "text-normalization-challenge-english-language",
        "accuracy",
        "id",
        ("after",),
        "answers.csv",
        "id ('<sentence_id>_<token_id>'), after (the normalised token)",
        text=True,
    ),
    _entry(
        "text-normalization-challenge-russian-language",
        "accuracy",
        "id",
        ("after",),
        "answers.csv",
        "id ('<sentence_id>_<token_id>'), after (the normalised token)",
        text=True,
    ),
    _entry(
        "the-icml-2013-whale-challenge-right-whale-redux",
        "roc_auc",
        "clip",
        ("probability",),
        "test.csv",
        "clip (file name), probability (1 = right whale call)",
    ),
)

COMPETITIONS: dict[str, Competition] = {entry.id: entry for entry in _ENTRIES}


def competition(id: str) -> Competition:
    """The competition called `id`; `KeyError` naming the known ids when there is none."""
    try:
        return COMPETITIONS[id]
    except KeyError:
        raise KeyError(f"unknown competition {id!r}; known: {', '.join(sorted(COMPETITIONS))}") from None
