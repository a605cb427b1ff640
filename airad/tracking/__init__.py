"""Mirrors of the event log in experiment trackers (MLflow), fed by tailing `airad.events.>`."""
