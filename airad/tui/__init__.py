"""The Textual TUI (live monitoring and replay): a read model over the event log, built in its own issue."""
