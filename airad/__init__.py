"""airad: a daemon that runs AI research agents at scale over an event-sourced log."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Client", "__version__"]

if TYPE_CHECKING:
    from airad.client import Client


def __getattr__(name: str):
    """`airad.Client`, imported on first use so that `import airad` stays cheap."""
    if name == "Client":
        from airad.client import Client

        return Client
    raise AttributeError(f"module 'airad' has no attribute {name!r}")
