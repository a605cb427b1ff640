"""A host folder of pretrained weights that jobs read but never write, and the environment that
points the libraries at it, offline.

The folder is laid out as `huggingface/` (`HF_HOME`: transformers, datasets, and timm's weights,
which it fetches through the Hugging Face hub) and `torch/` (`TORCH_HOME`: `torch.hub`, torchvision's
weights, and timm's older weights fetched by URL). Jobs have no network, so the libraries are told
to stay offline and load only what the folder holds, instead of failing on a download.
"""

from __future__ import annotations

import posixpath

OFFLINE = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def weights_env(folder: str) -> dict[str, str]:
    """The variables that make a job load pretrained weights from `folder` (its path as the job sees
    it) and never try to download them."""
    return {
        "HF_HOME": posixpath.join(folder, "huggingface"),
        "TORCH_HOME": posixpath.join(folder, "torch"),
        **{name: "1" for name in OFFLINE},
    }
