"""Task definitions and their harnesses: the harness, not the model, scores every node."""
