"""The executor seam: the same resolved stages, manifests and events whatever runs each stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from splatkit import GaussianCloud, hookimpl
from splatkit.pipeline import run
from splatkit.pipeline.events_log import read_events
from splatkit.pipeline.executors import Executor, LocalExecutor
from splatkit.pipeline.manifest import read_manifest
from splatkit.stages import StageResult

FAKE = {"sfm": {"backend": "fake"}, "train": {"backend": "fake"}, "compress": {"backend": "ply"}}


class PathExecutor:
    """Plays an out-of-process executor: takes inputs as paths, reads them back itself."""

    name = "recording"
    wants_paths = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def execute(self, resolved: Any, input: Any, workdir: Path, progress: Any) -> StageResult[Any]:
        self.calls.append((resolved.kind, input))
        if resolved.kind == "compress":  # what a container entry does with the training folder
            from splatkit.io.ply import read_ply

            input = read_ply(Path(input) / "point_cloud.ply")
        return LocalExecutor().execute(resolved, input, workdir, progress)


class Listener:
    def __init__(self) -> None:
        self.events: list[str] = []

    @hookimpl
    def splatkit_stage_finished(self, stage: str) -> None:
        self.events.append(stage)


def test_local_executor_is_an_executor() -> None:
    assert isinstance(LocalExecutor(), Executor) and isinstance(PathExecutor(), Executor)


def test_a_path_executor_gets_paths_and_the_pipeline_keeps_its_manifests_and_events(photos, tmp_path,
                                                                                     manager) -> None:
    listener = Listener()
    manager.register(listener, "listener")
    executor = PathExecutor()
    out = tmp_path / "out"
    result = run(photos, out, config=FAKE, plugin_manager=manager, executor=executor)

    assert [kind for kind, _ in executor.calls] == ["sfm", "train", "compress"]
    assert executor.calls[0][1] == photos
    assert executor.calls[1][1] == out / "sfm" and executor.calls[2][1] == out / "train"
    assert listener.events == ["sfm/fake", "train/fake", "compress/ply"]
    assert all(read_manifest(out / kind) is not None for kind in ("sfm", "train", "compress"))
    started = [e for e in read_events(out / "events.jsonl") if e["event"] == "run_started"]
    assert started[-1]["executor"] == "recording"
    assert result.final_file is not None and result.final_file.is_file()

    # A re-run with the local executor trusts what the other one made: nothing runs again.
    again = run(photos, out, config=FAKE, plugin_manager=manager)
    assert {o.status for o in again.stages} == {"skipped"}


def test_the_local_executor_passes_the_trained_cloud_in_memory(photos, tmp_path, manager) -> None:
    seen: list[Any] = []

    class Spy(LocalExecutor):
        def execute(self, resolved: Any, input: Any, workdir: Path, progress: Any) -> StageResult[Any]:
            seen.append(input)
            return super().execute(resolved, input, workdir, progress)

    run(photos, tmp_path / "out", config=FAKE, plugin_manager=manager, executor=Spy())
    assert isinstance(seen[2], GaussianCloud)


def test_stages_for_another_machine_are_chosen_for_it_not_for_this_one() -> None:
    from splatkit.pipeline.config import PipelineOptions
    from splatkit.pipeline.runner import resolve_stages
    from splatkit.plugins import PluginManager

    registry = PluginManager(load_entrypoints=False).stages
    remote = resolve_stages(PipelineOptions(), registry, runs_here=False)
    # gsplat is the preferred trainer: a SageMaker GPU job runs it even where this machine has no GPU.
    assert [r.backend for r in remote] == ["pycolmap", "gsplat", "sog"]
    assert remote[1].note == "auto: gsplat (preferred where the stage runs)"
    here = resolve_stages(PipelineOptions(), registry, require_available=False)
    assert here[1].backend == registry.choose_default("train")[0]
