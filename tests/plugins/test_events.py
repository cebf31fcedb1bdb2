"""Stage event hooks: called with keyword arguments, and a failing notifier never breaks a run."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from splatkit import StageError, hookimpl
from splatkit.plugins import PluginManager


class Recorder:
    """Implements every event hook with its parameters in reverse order: only keyword calls bind them right."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def splatkit_stage_started(self, workdir: str, config: dict[str, Any], stage: str) -> None:
        self.calls.append(("started", {"stage": stage, "config": config, "workdir": workdir}))

    @hookimpl
    def splatkit_stage_finished(self, files: list[str], seconds: float, report: dict[str, Any], stage: str) -> None:
        self.calls.append(("finished", {"stage": stage, "report": report, "seconds": seconds, "files": files}))

    @hookimpl
    def splatkit_stage_failed(self, seconds: float, error: BaseException, stage: str) -> None:
        self.calls.append(("failed", {"stage": stage, "error": error, "seconds": seconds}))


class StageOnly:
    """Takes fewer arguments than the spec: pluggy's opt-in arguments let specs grow safely."""

    def __init__(self) -> None:
        self.stages: list[str] = []

    @hookimpl
    def splatkit_stage_finished(self, stage: str) -> None:
        self.stages.append(stage)


class Broken:
    @hookimpl
    def splatkit_stage_started(self, stage: str) -> None:
        raise ConnectionError("SMTP server unreachable")

    @hookimpl
    def splatkit_stage_finished(self, stage: str) -> None:
        raise ValueError("metrics backend rejected the report")

    @hookimpl
    def splatkit_stage_failed(self, stage: str) -> None:
        raise RuntimeError("pager is down")


def test_events_reach_the_plugin_with_each_argument_by_name(manager: PluginManager) -> None:
    recorder = Recorder()
    manager.register(recorder, "recorder")
    error = StageError("too few images", stage="sfm/pycolmap", source="photos.zip")

    manager.stage_started("sfm/pycolmap", {"max_features": 8192}, "/out/sfm")
    manager.stage_finished("sfm/pycolmap", {"points": 1200}, 12.5, ["/out/sfm/model.json"])
    manager.stage_failed("sfm/pycolmap", error, 0.5)

    assert recorder.calls == [
        ("started", {"stage": "sfm/pycolmap", "config": {"max_features": 8192}, "workdir": "/out/sfm"}),
        ("finished", {"stage": "sfm/pycolmap", "report": {"points": 1200}, "seconds": 12.5,
                      "files": ["/out/sfm/model.json"]}),
        ("failed", {"stage": "sfm/pycolmap", "error": error, "seconds": 0.5}),
    ]


def test_an_implementation_may_take_fewer_arguments(manager: PluginManager) -> None:
    stage_only = StageOnly()
    manager.register(stage_only, "stage-only")
    manager.stage_finished("train/cpu", {"psnr": 24.0}, 3.0, [])
    assert stage_only.stages == ["train/cpu"]


def test_a_raising_notifier_is_logged_and_the_others_still_run(
        manager: PluginManager, caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    manager.register(recorder, "recorder")
    manager.register(Broken(), "broken-notifier")  # registered last, so pluggy calls it first (LIFO)

    with caplog.at_level(logging.ERROR, logger="splatkit.plugins.manager"):
        manager.stage_started("compress/sog", {}, "/out/compress")
        manager.stage_finished("compress/sog", {}, 1.0, [])
        manager.stage_failed("compress/sog", StageError("x", stage="compress/sog"), 1.0)

    assert [kind for kind, _ in recorder.calls] == ["started", "finished", "failed"]
    failures = [r for r in caplog.records if "broken-notifier" in r.getMessage()]
    assert [r.exc_info[0] for r in failures] == [ConnectionError, ValueError, RuntimeError]
    assert all(hook in " ".join(r.getMessage() for r in failures) for hook in
               ("splatkit_stage_started", "splatkit_stage_finished", "splatkit_stage_failed"))


def test_keyboard_interrupt_in_a_notifier_still_stops_the_run(manager: PluginManager) -> None:
    class Interrupted:
        @hookimpl
        def splatkit_stage_started(self, stage: str) -> None:
            raise KeyboardInterrupt

    manager.register(Interrupted(), "interrupted")
    with pytest.raises(KeyboardInterrupt):
        manager.stage_started("sfm/pycolmap", {}, "/out")


def test_events_with_no_listener_do_nothing(manager: PluginManager) -> None:
    manager.stage_started("sfm/pycolmap", {}, "/out")
    manager.stage_finished("sfm/pycolmap", {}, 0.0, [])
    manager.stage_failed("sfm/pycolmap", RuntimeError("x"), 0.0)


def test_hooks_run_through_pluggy_so_wrappers_and_tracing_see_them(manager: PluginManager) -> None:
    """A ``wrapper=True`` implementation runs around the others (it did not when the manager
    called implementations one by one), and pluggy's own tracing records the calls."""
    seen: list[str] = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def splatkit_stage_finished(self, stage: str) -> Any:
            seen.append(f"before {stage}")
            result = yield
            seen.append(f"after {stage}")
            return result

        @hookimpl(wrapper=True)
        def splatkit_register_stages(self, registry: Any) -> Any:
            seen.append("register wrapped")
            return (yield)

    recorder = Recorder()
    manager.register(recorder, "recorder")
    manager.register(Wrapper(), "wrapper")
    traced: list[str] = []
    undo = manager._pm.add_hookcall_monitoring(lambda name, impls, kwargs: traced.append(name),
                                               lambda outcome, name, impls, kwargs: None)
    try:
        manager.stage_finished("train/cpu", {}, 1.0, [])
        manager.stages
    finally:
        undo()
    assert seen == ["before train/cpu", "after train/cpu", "register wrapped"]
    assert [k for k, _ in recorder.calls] == ["finished"]
    assert traced == ["splatkit_stage_finished", "splatkit_register_stages"]
