"""The composition root: intake, run supervisor, model client, budgets, leases and resume."""
