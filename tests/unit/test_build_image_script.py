"""scripts/build-image.sh's arguments, by its dry run (nothing is built), and the deep-learning image's
pins: exact versions, the base image's own lightgbm and xgboost-cpu."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build-image.sh"
PINS = ROOT / "scripts" / "runtime-dl-requirements.txt"
DL_PACKAGES = {"torch", "torchvision", "timm", "transformers", "xgboost-cpu", "lightgbm", "catboost"}


def build_image(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("PIP_INDEX_URL", "TORCH_INDEX_URL", "DOCKER_HOST")}
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=30, env={**clean, **env}
    )


def pins() -> dict[str, str]:
    lines = [line.strip() for line in PINS.read_text().splitlines()]
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


def test_a_plain_dry_run_names_only_the_runtime_image():
    run = build_image("--dry-run")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["runtime image: airad-runtime:latest (Containerfile, constraints.txt)"]


def test_the_deep_learning_target_builds_on_the_runtime_image_with_torch_from_pypi_by_default():
    run = build_image("--deep-learning", "--dry-run")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[:3] == [
        "runtime image: airad-runtime:latest (Containerfile, constraints.txt)",
        "deep-learning image: airad-runtime-dl:latest (on airad-runtime:latest, scripts/runtime-dl-requirements.txt)",
        "torch index: https://pypi.org/simple",
    ]
    assert {line.strip().split("==")[0] for line in lines[3:]} == DL_PACKAGES


def test_the_tag_names_the_last_image_and_the_torch_index_can_be_chosen():
    run = build_image("--tag", "dl:1", "--deep-learning", "--dry-run", TORCH_INDEX_URL="https://example.org/whl/cu126")
    assert "deep-learning image: dl:1 (on airad-runtime:latest," in run.stdout
    assert "torch index: https://example.org/whl/cu126" in run.stdout
    assert "runtime image: base:2 " in build_image("--dry-run", "-t", "base:2").stdout
    mirror = build_image("--deep-learning", "--dry-run", PIP_INDEX_URL="https://mirror.example/simple")
    assert "torch index: https://mirror.example/simple" in mirror.stdout


@pytest.mark.parametrize("args", [("--bogus",), ("--tag",), ("--host",), ("--tag", "", "--dry-run"), ("dl",)])
def test_bad_arguments_print_the_usage_and_build_nothing(args):
    run = build_image(*args)
    assert run.returncode == 2 and "usage:" in run.stderr and "--deep-learning" in run.stderr
    assert run.stdout == ""


def test_every_deep_learning_package_is_pinned_to_an_exact_version():
    found = pins()
    assert set(found) == DL_PACKAGES
    assert all(re.fullmatch(r"\d+(\.\d+)+", version) for version in found.values()), found


def test_the_deep_learning_image_keeps_the_runtime_images_own_versions():
    constraints = dict(
        line.strip().split("==") for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line
    )
    assert pins()["lightgbm"] == constraints["lightgbm"]
    assert f"xgboost-cpu=={pins()['xgboost-cpu']}" in (ROOT / "Containerfile").read_text()
    torch, vision = pins()["torch"].split("."), pins()["torchvision"].split(".")
    assert int(vision[1]) == int(torch[1]) + 15, "torchvision 0.N pairs with torch 2.(N-15)"
