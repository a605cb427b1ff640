"""The `?` screen: every key the screen below answers to, with what it does."""

from __future__ import annotations

from itertools import zip_longest

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


def key_rows(screen: Screen) -> list[tuple[str, str]]:
    """(keys, what they do) for the bindings of the screen and the app, keys of one action joined;
    the widgets' own keys (arrows in the tree or table) are left to the screen's `HELP` text."""
    rows: dict[str, list[str]] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if (
            binding.system
            or not binding.description
            or active.node not in (screen, screen.app)
            or "." in binding.action
        ):
            continue
        rows.setdefault(binding.description, []).append(
            screen.app.get_key_display(binding) if key == binding.key else key
        )
    return [(" ".join(dict.fromkeys(keys)), description) for description, keys in rows.items()]


class HelpScreen(ModalScreen[None]):
    """A modal list of the keys of the screen it was opened over."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close help")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 72; max-width: 100%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1; }
    """

    def __init__(self, about: str, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.about, self.rows = about, rows

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 1))
        for _ in range(2):
            table.add_column(style="bold cyan", no_wrap=True)
            table.add_column(min_width=16)
        half = (len(self.rows) + 1) // 2
        for left, right in zip_longest(self.rows[:half], self.rows[half:], fillvalue=("", "")):
            table.add_row(*left, *right)
        with VerticalScroll():
            yield Static(Text(self.about, style="italic"))
            yield Static(table)
            yield Static(Text("escape, q or ? closes this", style="dim"))
