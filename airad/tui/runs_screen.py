"""Every run in the index: status, policy, task, nodes, best scores, cost, age; sortable, filterable, live."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import Worker

from airad.events.log import RunIndex, RunSummary
from airad.tui.feeds import follow_runs, report_failure
from airad.tui.messages import OpenRun, RunsArrived
from airad.tui.run_rows import COLUMNS, HEADERS, cells, visible

DESCENDING_FIRST = {"nodes", "valid", "test", "cost", "age"}
REFILL_OVER = 50


class RunsScreen(Screen):
    """The runs table. A worker lists the index once, then watches it and posts the summaries when
    they change (at most every `refresh_s`); rows are updated cell by cell in place and reordered with
    one sort."""

    HELP = (
        "Every run in the index, updated live. NODES/BUG/RUN: nodes, buggy ones, ones in flight. "
        "Up/down choose a run, enter opens it. Filter with words (any field) or field:value "
        "(status:, policy:, task:, model:, run:)."
    )
    DEFAULT_CSS = """
    RunsScreen #filter { dock: top; height: 1; border: none; padding: 0 1; }
    RunsScreen #status { height: 1; padding: 0 1; background: $boost; }
    RunsScreen DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("r", "replay", "Replay"),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse", "Reverse"),
        Binding("slash", "filter", "Filter"),
        Binding("escape", "leave_filter", "Table", show=False),
    ]

    def __init__(self, index: RunIndex, *, refresh_s: float = 1.0) -> None:
        super().__init__()
        self.index = index
        self.refresh_s = refresh_s
        self.summaries: dict[str, RunSummary] = {}
        self.column = "age"
        self.descending = True
        self._cells: dict[str, tuple] = {}

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter (/): words, or status:running policy:mcts …", id="filter")
        table: DataTable[str | Text] = DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        for column, title in zip(COLUMNS, HEADERS, strict=False):
            table.add_column(title, key=column)
        yield table
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        """Start following the index."""
        self.query_one(DataTable).focus()
        self.run_worker(
            follow_runs(self.index, self.post_message, self.refresh_s),
            name="the runs list",
            exclusive=True,
            exit_on_error=False,
        )
        self.refresh_rows()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed feed is reported, the screen stays."""
        report_failure(self, event)

    def on_runs_arrived(self, message: RunsArrived) -> None:
        """Take the new summaries."""
        self.summaries = {s.run_id: s for s in message.summaries}
        self.refresh_rows()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Filter as the user types."""
        self.refresh_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Back to the table."""
        self.query_one(DataTable).focus()

    def refresh_rows(self) -> None:
        """Make the table show the runs that match, in order: changed cells are updated, rows that
        left are removed (or the table is refilled when many left), new rows added, then one sort."""
        table = self.query_one(DataTable)
        current = self.selected_run()
        query = self.query_one("#filter", Input).value
        shown = visible(self.summaries.values(), query, self.column, self.descending)
        now = time.time()
        wanted = {s.run_id: cells(s, now) for s in shown}
        gone = [run_id for run_id in self._cells if run_id not in wanted]
        if len(gone) > REFILL_OVER:
            table.clear()
            self._cells = {}
        for run_id in gone if self._cells else ():
            table.remove_row(run_id)
        for run_id, row in wanted.items():
            before = self._cells.get(run_id)
            if before is None:
                table.add_row(*row, key=run_id)
                continue
            for column, value, old in zip(COLUMNS, row, before, strict=False):
                if value != old:
                    table.update_cell(run_id, column, value)
        self._cells = wanted
        order = list(wanted)
        if [row.key.value for row in table.ordered_rows] != order:
            rank = {run_id: i for i, run_id in enumerate(order)}
            table.sort("run", key=rank.__getitem__)
        if current in wanted:
            table.move_cursor(row=table.get_row_index(current))
        direction = (
            ("newest" if self.descending else "oldest") + " first"
            if self.column == "age"
            else ("descending" if self.descending else "ascending")
        )
        self.query_one("#status", Static).update(
            f"{len(wanted)} of {len(self.summaries)} runs · sorted by {self.column} ({direction})"
        )

    def selected_run(self) -> str | None:
        """The run id of the row under the cursor."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def action_sort(self) -> None:
        """Sort by the next column."""
        self.column = COLUMNS[(COLUMNS.index(self.column) + 1) % len(COLUMNS)]
        self.descending = self.column in DESCENDING_FIRST
        self.refresh_rows()

    def action_reverse(self) -> None:
        """Reverse the order."""
        self.descending = not self.descending
        self.refresh_rows()

    def action_filter(self) -> None:
        """Type a filter."""
        self.query_one("#filter", Input).focus()

    def action_leave_filter(self) -> None:
        """Back to the table."""
        self.query_one(DataTable).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row opens the run."""
        if event.row_key.value is not None:
            self.post_message(OpenRun(event.row_key.value))

    def action_replay(self) -> None:
        """Replay the run under the cursor."""
        run_id = self.selected_run()
        if run_id is not None:
            self.post_message(OpenRun(run_id, replay=True))
