"""The Textual TUI (`airad tui`): live monitoring and replay, a read model over the event log.

It is handed an event log, a run index or events read from a file, and never imports the daemon.
"""
