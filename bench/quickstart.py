"""Time `airad run examples/quickstart.toml` from a fresh state dir: `python bench/quickstart.py [REQUEST]`."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(request: str = "examples/quickstart.toml", repeats: int = 1) -> None:
    walls = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as state:
            env = {**os.environ, "AIRAD_STATE_DIR": state, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "airad.cli", "run", request], cwd=ROOT, env=env,
                                  capture_output=True, text=True)
            walls.append(time.perf_counter() - started)
            if done.returncode != 0:
                sys.exit(f"airad run failed: {done.stderr[-2000:]}")
            summary = done.stdout.strip().splitlines()[-2:]
    print(f"quickstart wall time: {min(walls):.1f} s (best of {repeats}; all: {', '.join(f'{w:.1f}' for w in walls)})")
    print("last run: " + " | ".join(summary))


if __name__ == "__main__":
    main(*sys.argv[1:2], repeats=int(os.environ.get("REPEATS", "1")))
