"""Where installed packages keep their own copies of the bundled datasets, for executors to hide.

A job's interpreter could load these files and look the answers up, so every executor mounts an
empty tmpfs over each. Kept apart from `airad.tasks.bundled` so that an executor (and the CLI, which
builds them) does not import pandas to learn a few paths.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os

__all__ = ["DATASET_PACKAGE_DATA", "dataset_data_dirs"]

# Importable package -> its dirs (relative to the package's dir) holding a copy of a bundled dataset
# that a job's interpreter could load: hide them (an empty tmpfs over each) or a script can look the
# answers up. The last entries are full copies found among other packages' test data.
DATASET_PACKAGE_DATA: dict[str, tuple[str, ...]] = {
    # breast_cancer.csv, wine_data.csv, iris.csv, digits.csv.gz, diabetes_*.csv.gz; descriptions; images
    # tests/data/openml: iris (id_61), penguins (id_42585)
    "sklearn.datasets": ("data", "descr", "images", "tests/data"),
    "palmerpenguins": ("data",),  # penguins.csv, penguins-raw.csv
    "scipy.io.arff": ("tests/data",),  # iris.arff, with the species
    "scipy.spatial": ("tests/data",),  # iris.txt: the features in class order, so the labels too
}


def dataset_data_dirs() -> list[str]:
    """The existing dirs of `DATASET_PACKAGE_DATA` in this interpreter, as sorted real paths.

    Found by import specs alone: no package is imported (importing sklearn takes a second)."""
    found = set()
    for package, subdirs in DATASET_PACKAGE_DATA.items():
        for location in _package_dirs(package):
            for subdir in subdirs:
                path = os.path.realpath(os.path.join(location, subdir))
                if os.path.isdir(path):
                    found.add(path)
    return sorted(found)


def _package_dirs(package: str) -> list[str]:
    """The dirs of a (dotted) package, resolving each part with the path finder so that no parent
    package is imported; [] when it is not installed."""
    top, *rest = package.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return []
    for part in rest:
        if spec is None or not spec.submodule_search_locations:
            return []
        spec = importlib.machinery.PathFinder.find_spec(part, list(spec.submodule_search_locations))
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return list(spec.submodule_search_locations)
    return [os.path.dirname(spec.origin)] if spec.origin else []
