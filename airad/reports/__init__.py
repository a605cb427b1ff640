"""Reports and exports: everything that reads folded runs and experiments to show, rank, compare or
hand them to other tools. Nothing here appends to a log."""
