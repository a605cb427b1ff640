"""The event log, the blob store and the fold `RunState = fold(events)`."""
