"""One run per output folder: a second run stops naming the holder's pid, or waits and finds it done."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from splatkit import hookimpl
from splatkit.pipeline import run
from splatkit.pipeline.events_log import read_events
from splatkit.pipeline.lock import LOCK_FILE, OutputFolderBusyError, lock_holder_pid, out_dir_lock
from splatkit.pipeline.manifest import read_manifest
from tests.conftest import PROJECT_ROOT
from tests.pipeline.fakes import FakeTrainConfig, FakeTrainer

FAKE = {"sfm": {"backend": "fake"}, "train": {"backend": "fake"}, "compress": {"backend": "ply"}}


@dataclass(frozen=True, kw_only=True)
class GatedTrainConfig(FakeTrainConfig):
    gate: str = ""


class GatedTrainer(FakeTrainer):
    """The fake trainer that finishes only once the file ``gate`` exists: a run the test holds open."""

    name = "gated"
    Config = GatedTrainConfig

    def run(self, input: Any, config: Any, workdir: Path, progress: Any = None) -> Any:
        while config.gate and not Path(config.gate).exists():
            time.sleep(0.02)
        return super().run(input, config, workdir, progress)


class GatedPlugin:
    @hookimpl
    def splatkit_register_stages(self, registry: Any) -> None:
        registry.add(GatedTrainer)

HOLDER = """
import sys
sys.path.insert(0, {root!r})
from splatkit.pipeline.lock import out_dir_lock
with out_dir_lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()
"""

# `splatkit run` as the command line runs it, with the fake stages registered in its plugin manager.
CLI = """
import sys
sys.path.insert(0, {root!r})
from splatkit.cli import main
from splatkit.plugins import get_plugin_manager
from tests.pipeline.fakes import FakeStagesPlugin
from tests.pipeline.test_lock import GatedPlugin
get_plugin_manager().register(FakeStagesPlugin(), "fake-stages")
get_plugin_manager().register(GatedPlugin(), "gated")
sys.exit(main(sys.argv[1:]))
"""


def start_holder(out: Path) -> subprocess.Popen[bytes]:
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER.format(root=str(PROJECT_ROOT)), str(out)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"locked\n"
    return proc


def release(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    proc.wait(timeout=60)
    proc.stdout.close()


def start_cli(photos: Path, out: Path, gate: Path) -> subprocess.Popen[str]:
    """``splatkit run`` with the fake stages; its training waits for ``gate`` to exist."""
    return subprocess.Popen([sys.executable, "-c", CLI.format(root=str(PROJECT_ROOT)), "-q", "run", str(photos),
                             str(out), "--sfm", "fake", "--train", "gated", "--compress", "ply",
                             "--set", f"train.gate={gate}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_event(out: Path, event: str, proc: subprocess.Popen[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        log = out / "events.jsonl"
        if log.is_file() and any(e["event"] == event for e in read_events(log)):
            return
        assert proc.poll() is None, f"the run ended (rc {proc.returncode}) before {event}"
        assert time.monotonic() < deadline, f"no {event} event"
        time.sleep(0.02)


def digests(out: Path) -> dict[str, tuple[str, dict[str, int]]]:
    result = {}
    for kind in ("sfm", "train", "compress"):
        manifest = read_manifest(out / kind)
        assert manifest is not None, kind
        result[kind] = (manifest.output_digest, manifest.files)
    return result


def test_a_second_run_stops_with_one_line_naming_the_holders_pid(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    holder = start_holder(out)
    try:
        with pytest.raises(OutputFolderBusyError) as excinfo:
            run(photos, out, config=FAKE, plugin_manager=manager)
        message = str(excinfo.value)
        assert excinfo.value.pid == holder.pid and f"pid {holder.pid}" in message
        assert message.startswith(f"{out}: ") and "--wait" in message and "\n" not in message
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]  # nothing written, nothing removed
    finally:
        release(holder)
    assert lock_holder_pid(out) is None  # emptied on release
    assert {o.status for o in run(photos, out, config=FAKE, plugin_manager=manager).stages} == {"ran"}


def test_wait_queues_behind_the_holder(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    holder = start_holder(out)

    class ReleaseWhenWaiting(logging.Handler):
        """Lets the holder go once the run says it waits: no sleeps, no timing."""

        def emit(self, record: logging.LogRecord) -> None:
            if "waiting for" in record.getMessage():
                assert str(holder.pid) in record.getMessage()
                release(holder)

    handler = ReleaseWhenWaiting(level=logging.WARNING)
    lock_logger = logging.getLogger("splatkit.pipeline.lock")
    lock_logger.addHandler(handler)
    try:
        result = run(photos, out, config=FAKE, plugin_manager=manager, wait=True)
    finally:
        lock_logger.removeHandler(handler)
        if holder.poll() is None:
            release(holder)
    assert holder.returncode == 0 and {o.status for o in result.stages} == {"ran"}


def test_a_killed_holder_leaves_a_stale_pid_but_no_lock(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    holder = start_holder(out)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
    holder.stdout.close()
    holder.stdin.close()
    assert lock_holder_pid(out) == holder.pid  # the pid is still written; the kernel dropped the lock
    assert {o.status for o in run(photos, out, config=FAKE, plugin_manager=manager).stages} == {"ran"}


def test_the_lock_is_reentrant_in_one_thread_and_refused_to_another(tmp_path) -> None:
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            with out_dir_lock(tmp_path):
                pass
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            errors.append(e)

    with out_dir_lock(tmp_path):
        with out_dir_lock(tmp_path):
            assert lock_holder_pid(tmp_path) is not None
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert len(errors) == 1 and isinstance(errors[0], OutputFolderBusyError)
    with out_dir_lock(tmp_path):  # released by the outer block
        pass


def test_two_concurrent_command_line_runs_one_succeeds_one_is_told_who_holds_the_folder(photos, tmp_path,
                                                                                          manager) -> None:
    out, gate = tmp_path / "out", tmp_path / "gate"
    first = start_cli(photos, out, gate)
    try:
        wait_for_event(out, "started", first)  # the first run holds the folder and is inside a stage
        second = start_cli(photos, out, gate)
        second_out, second_err = second.communicate(timeout=300)
    finally:
        gate.touch()
    first_out, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err[-2000:]
    assert second.returncode == 2 and second_out == ""  # a user error, like every splatkit error
    assert second_err.count("\n") == 1 and second_err.startswith(f"splatkit: error: {out}: ")
    assert f"pid {first.pid}" in second_err

    # The first run's output is a single run's: the second touched nothing.
    manager.register(GatedPlugin(), "gated")
    single = tmp_path / "single"
    run(photos, single, config={**FAKE, "train": {"backend": "gated", "gate": str(gate)}}, plugin_manager=manager)
    assert digests(out) == digests(single)
    assert [e["event"] for e in read_events(out / "events.jsonl")].count("run_started") == 1


def test_a_run_that_waits_finds_the_first_runs_work_up_to_date(photos, tmp_path) -> None:
    out, gate = tmp_path / "out", tmp_path / "gate"
    first = start_cli(photos, out, gate)
    config = {**FAKE, "train": {"backend": "gated", "gate": str(gate)}}
    code = (f"import json, sys\nsys.path.insert(0, {str(PROJECT_ROOT)!r})\n"
            "from splatkit.pipeline import run\nfrom splatkit.plugins import PluginManager\n"
            "from tests.pipeline.fakes import FakeStagesPlugin\nfrom tests.pipeline.test_lock import GatedPlugin\n"
            "pm = PluginManager(load_entrypoints=False)\npm.register(FakeStagesPlugin(), 'fake-stages')\n"
            "pm.register(GatedPlugin(), 'gated')\n"
            f"result = run({str(photos)!r}, {str(out)!r}, config=json.loads({json.dumps(config)!r}), "
            "plugin_manager=pm, wait=True)\n"
            "print(json.dumps({o.kind: o.status for o in result.stages}))\n")
    try:
        wait_for_event(out, "started", first)
        second = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
    finally:
        gate.touch()  # the second run may now be waiting, or about to: either way it must see it done
    second_out, second_err = second.communicate(timeout=300)
    first.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, second_err[-2000:]
    assert json.loads(second_out) == {"sfm": "skipped", "train": "skipped", "compress": "skipped"}
