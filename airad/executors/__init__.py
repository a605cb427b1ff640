"""Executors run a node's script somewhere isolated and return what it wrote."""
