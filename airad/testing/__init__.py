"""Checks that airad and plugin authors run in their tests: the contracts every policy keeps."""
