"""The deep-learning runtime image, for real (opt-in: several GB, so collected only with
AIRAD_DL_IMAGE=1; docs/executors.md): scripts/build-image.sh --deep-learning builds it against a
private dockerd, and a job in it imports every pinned library at its pinned version and trains a
small network of each kind (a CNN in torch, a timm model, a transformers model), on the GPU the job
was given where AIRAD_EXPECT_GPU=1 (a lent GPU machine), else on the CPU.

    AIRAD_DL_IMAGE=1 .venv/bin/python -m pytest -q tests/dlimage
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from airad.executors.base import JobSpec
from airad.executors.config import ContainerBackend
from airad.executors.container import ContainerExecutor
from tests.conftest import require

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

ROOT = Path(__file__).resolve().parents[2]
PINS = {
    name: version
    for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "scripts" / "runtime-dl-requirements.txt").read_text(), re.M)
}
EXPECT_GPU = os.environ.get("AIRAD_EXPECT_GPU") == "1"

TRAIN = """
import json, os, sys
from importlib.metadata import version

import catboost, lightgbm, timm, torch, torchvision, transformers, xgboost

pins = json.loads(sys.argv[1])
found = {name: version(name) for name in pins}
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(0)
images, labels = torch.randn(64, 3, 32, 32, device=device), torch.randint(0, 3, (64,), device=device)

def fit(model, inputs, steps=25):
    model = model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        optimiser.zero_grad()
        out = model(**inputs) if isinstance(inputs, dict) else model(inputs)
        logits = out.logits if hasattr(out, "logits") else out
        loss = torch.nn.functional.cross_entropy(logits, labels)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return losses[0], losses[-1]

cnn = torch.nn.Sequential(
    torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 3)
)
config = transformers.BertConfig(
    vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, num_labels=3
)
tokens = torch.randint(0, 100, (64, 12), device=device)
catboost_model = catboost.CatBoostClassifier(iterations=5, verbose=False).fit(
    images.flatten(1)[:, :5].cpu().numpy(), labels.cpu().numpy()
)
report = {
    "versions": found,
    "device": device,
    "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
    "cnn": fit(cnn, images),
    "timm": fit(timm.create_model("resnet18", pretrained=False, num_classes=3), images, steps=10),
    "bert": fit(transformers.BertForSequenceClassification(config), {"input_ids": tokens}),
    "offline": [os.environ.get(key) for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")],
}
os.makedirs("submission", exist_ok=True)
open("submission/submission.csv", "w").write("done\\n")
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def dl_backend(dockerd_engine):  # noqa: F811
    """The runtime image and the deep-learning image on it, built once for the module."""
    require("debootstrap")
    require("docker")
    build = subprocess.run(
        [str(ROOT / "scripts" / "build-image.sh"), "--host", dockerd_engine.url, "--deep-learning", "--tag", "airad-runtime-dl:test"],
        capture_output=True, text=True, timeout=3300,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return ContainerBackend(url=dockerd_engine.url, image="airad-runtime-dl:test")


async def test_a_job_in_the_deep_learning_image_trains_each_kind_of_network(dl_backend, tmp_path):
    executor = ContainerExecutor(dl_backend)
    spec = JobSpec(
        job_id="dl-image/train",
        files={"solution.py": TRAIN},
        command=("python", "solution.py", json.dumps(PINS)),
        inputs_dir=str(tmp_path),
        timeout_s=900.0,
        cpus=2,
        memory_mb=8192,
        gpus=1 if EXPECT_GPU else 0,
    )
    handle = await executor.prepare(spec)
    await executor.start(handle)
    result = await executor.wait(handle)
    assert result.exit_code == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.decode().strip().splitlines()[-1])
    for name, pinned in PINS.items():
        assert report["versions"][name].split("+")[0] == pinned, (name, report["versions"][name], pinned)
    for kind in ("cnn", "timm", "bert"):
        first, last = report[kind]
        assert last < first, (kind, first, last)
    if EXPECT_GPU:
        assert report["device"] == "cuda" and report["gpu"], report
    print(json.dumps(report))
