"""Resident memory of an idle `airad daemon` (and its embedded nats-server): `python bench/idle_rss.py`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(settle_s: float = 10.0) -> None:
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "AIRAD_STATE_DIR": state, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        daemon = subprocess.Popen([sys.executable, "-m", "airad.cli", "daemon"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            for line in daemon.stderr:
                if "daemon.ready" in line:
                    break
            time.sleep(settle_s)
            nats_pid = int(__import__("json").loads((Path(state) / "nats.json").read_text())["pid"])
            print(f"idle daemon RSS: {rss_mib(daemon.pid):.0f} MiB (after {settle_s:.0f} s idle)")
            print(f"embedded nats-server RSS: {rss_mib(nats_pid):.0f} MiB")
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=30)


if __name__ == "__main__":
    main()
