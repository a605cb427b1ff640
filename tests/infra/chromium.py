"""Open a local HTML page in headless Chromium and read the DOM as it stands after the page's scripts ran."""

from __future__ import annotations

import subprocess
from html.parser import HTMLParser
from pathlib import Path

from tests.conftest import require

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--disable-extensions",
)


def dump_dom(page: Path, profile: Path, fragment: str = "") -> str:
    """The serialised DOM of `page` (a `#fragment` may follow) once it has loaded; fails or skips without chromium."""
    binary = require("chromium")
    url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    result = subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0 and result.stdout.strip(), f"chromium failed ({result.returncode}): {result.stderr[-2000:]}"
    return result.stdout


class DomReader(HTMLParser):
    """Every element with a `data-node-id` (its attributes), and the text and attributes of elements with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[dict[str, str]] = []
        self.by_id: dict[str, dict[str, str]] = {}
        self.text: dict[str, str] = {}
        self._open: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        if "data-node-id" in attributes:
            self.nodes.append(attributes)
        element_id = attributes.get("id")
        if element_id:
            self.by_id[element_id] = attributes
            self.text.setdefault(element_id, "")
        if tag not in ("meta", "br", "img", "input", "link", "hr"):
            self._open.append(element_id)

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for element_id in self._open:
            if element_id:
                self.text[element_id] += data


def read_dom(dom: str) -> DomReader:
    """Parse a dumped DOM."""
    reader = DomReader()
    reader.feed(dom)
    return reader
