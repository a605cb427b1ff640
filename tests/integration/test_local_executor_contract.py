"""The executor contract against the local executor, sandboxed (bwrap) and plain."""

from __future__ import annotations

import pytest

from airad.executors.local import LocalExecutor
from tests.conftest import require
from tests.contract.executor_contract import ExecutorContract, SandboxedExecutorContract, secret_path  # noqa: F401

pytestmark = pytest.mark.integration


class TestSandboxedLocalExecutor(SandboxedExecutorContract):
    @pytest.fixture
    def reopen(self, tmp_path):
        require("bwrap")
        state = tmp_path / "state"
        return lambda: LocalExecutor(state / "work", sandbox=True, hidden=(state.resolve(),))

    @pytest.fixture
    def executor(self, reopen):
        return reopen()


class TestPlainLocalExecutor(ExecutorContract):
    @pytest.fixture
    def reopen(self, tmp_path):
        return lambda: LocalExecutor(tmp_path / "state" / "work", sandbox=False)

    @pytest.fixture
    def executor(self, reopen):
        return reopen()
