"""What the daemon puts around a node's prompt: the compute of the run's executor with the GPU models
its probed environment reports, the probed packages, the time limit and the budget left."""

from types import SimpleNamespace

from airad.agents.operators import TaskBrief
from airad.daemon.plugins import Plugins
from airad.daemon.prompts import node_prompt
from airad.events.fold import fold
from airad.schemas.environment import measured_environment
from airad.schemas.policies import OperatorSpec
from airad.schemas.request import BundledTask, Budget, ContainerExecutor, RunRequest
from tests.factories import History
from tests.fakes import ScriptedLLM

H100 = measured_environment("3.11.7", ("torch==2.5.1", "timm==1.0.12"), ("NVIDIA H100 80GB HBM3",) * 2, 16, 65536)


class ProbedEnvironments:
    """Environments that report one probed environment and record what was asked."""

    def __init__(self, environment):
        self.environment = environment
        self.asked = []

    async def of(self, name, executor, resources):
        self.asked.append((name, resources))
        return self.environment


class Task:
    name = "dogs-vs-cats"

    def brief(self):
        return TaskBrief("Tell dogs from cats.", "- `train/`: 20,000 images", metric="log_loss", lower_is_better=True)


def _services(environments, now=1000.0):
    llm = ScriptedLLM([])
    return SimpleNamespace(
        environments=environments, executors={"container": object()}, clock=lambda: now, llm=llm, plugins=Plugins()
    )


async def test_a_gpu_executor_s_compute_and_the_probed_packages_are_in_the_prompt():
    executor = ContainerExecutor(gpus=2, cpus=8, memory_mb=32768, node_timeout_s=7200, image="airad-runtime-dl")
    request = RunRequest(task=BundledTask(name="iris"), executor=executor, operators=OperatorSpec(template_set="aira"))
    history = History(request=request)
    state = fold(history.node(0, "draft", score=0.3).events)
    environments = ProbedEnvironments(H100)
    prompt = await node_prompt(_services(environments), state, Task(), state.nodes[0])
    user = prompt.messages[1].content
    assert "Compute for your script: 8 CPUs, 32.0 GiB of memory, 2 GPUs (NVIDIA H100 80GB HBM3, NVIDIA H100 80GB HBM3)." in user
    assert "Installed packages (nothing else can be installed): timm==1.0.12, torch==2.5.1." in user
    assert "stopped after 2 hours" in user and "log_loss (lower is better)" in user
    assert environments.asked == [("container", executor)]
    compute = prompt.context["compute"]
    assert {**compute, "gpu_models": list(compute["gpu_models"])} == {
        "executor": "container", "cpus": 8, "memory_mb": 32768, "gpus": 2, "gpu_models": ["NVIDIA H100 80GB HBM3"] * 2
    }
    assert list(prompt.context["packages"]) == ["timm==1.0.12", "torch==2.5.1"]


async def test_the_budget_left_counts_the_node_being_made_and_what_was_spent():
    request = RunRequest(task=BundledTask(name="iris"), budget=Budget(max_nodes=5, wall_seconds=600, usd=1.0))
    history = History(request=request)
    history.node(0, "draft", score=0.5).node(1, "improve", parents=(0,), score=0.6)
    state = fold(history.events)
    submitted = state.submitted_at
    prompt = await node_prompt(_services(None, now=submitted + 100), state, Task(), state.nodes[1])
    left = prompt.context["budget_left"]
    assert left["nodes"] == 3 and left["wall_seconds"] == 500.0
    assert abs(left["usd"] - (1.0 - state.cost_usd)) < 1e-9 and left["tokens"] is None
    assert not prompt.context["packages"] and not prompt.context["compute"]["gpu_models"]
