"""airad: a daemon that runs AI research agents at scale over an event-sourced log."""

__version__ = "0.1.0"
