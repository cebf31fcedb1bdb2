"""docker/Dockerfile keeps the contracts the jobs rely on (no Docker engine here: the file is parsed).

* the final image's ENTRYPOINT is exec form and is the entry command the processing requests name
  (``container.ENTRY_COMMAND``), so a training job's appended ``train`` reaches the entry;
* gsplat's kernels are compiled at build time for the T4 (7.5) and the A10G (8.6), with PTX;
* the bases are NVIDIA CUDA images (devel to build, runtime to run), Python is 3.11, and the
  pinned torch and gsplat are the project's.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

import pytest

from splatkit.sagemaker import container
from tests.conftest import PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "docker" / "Dockerfile"
IGNORE = PROJECT_ROOT / "docker" / "Dockerfile.dockerignore"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)

    def all(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]


def _instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction: comments dropped, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def _arg_default(rest: str) -> tuple[str, str | None]:
    name, eq, value = rest.partition("=")
    return name.strip(), value.strip().strip('"') if eq else None


def _expand(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), text)


def _parse() -> tuple[dict[str, str], list[Stage]]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, rest in _instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=_expand(parts[0], global_args), name=name))
        elif keyword == "ARG" and not stages:
            name, value = _arg_default(rest)
            if value is not None:
                global_args[name] = value
        else:
            assert stages, f"{keyword} before the first FROM"
            if keyword == "ARG":
                name, value = _arg_default(rest)
                if value is not None:
                    stages[-1].args[name] = value
            stages[-1].instructions.append((keyword, rest))
    return global_args, stages


GLOBAL_ARGS, STAGES = _parse()
BUILD, FINAL = STAGES[0], STAGES[-1]


def _env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in stage.all("ENV"):
        for item in shlex.split(rest):
            key, eq, value = item.partition("=")
            assert eq, f"ENV {rest!r}: use the KEY=VALUE form"
            env[key] = value
    return env


def test_the_final_entrypoint_is_exec_form_and_is_the_entry_command_of_the_requests() -> None:
    (entrypoint,) = FINAL.all("ENTRYPOINT")
    assert entrypoint.startswith("["), "shell-form ENTRYPOINT: the entry would not receive SIGTERM"
    assert json.loads(entrypoint) == list(container.ENTRY_COMMAND)
    assert json.loads(entrypoint)[-1] == container.ENTRY_MODULE
    # No CMD: SageMaker's `docker run IMAGE train` must leave argv = ENTRYPOINT + ["train"].
    assert FINAL.all("CMD") == []
    # `python3` is the virtual environment's (the processing requests name it in ContainerEntrypoint).
    assert "/opt/venv" in " ".join(FINAL.all("COPY")) and _env(FINAL)["PATH"].startswith("/opt/venv/bin:")
    assert container.ENV_ROOT not in _env(FINAL) and container.ENV_ROOT not in _env(BUILD)


def test_the_requests_use_the_image_entry_as_the_dockerfile_defines_it() -> None:
    pytest.importorskip("botocore")
    from splatkit.sagemaker.config import LauncherConfig
    from splatkit.sagemaker.jobs import build_compress_job, build_sfm_job, build_train_job
    from splatkit.sagemaker.uris import parse_s3_uri
    from tests.sagemaker.conftest import config_kwargs

    entry = json.loads(FINAL.all("ENTRYPOINT")[0])
    config = LauncherConfig(**config_kwargs())
    sfm = build_sfm_job(config, ("pycolmap", {}), run_id="docker")
    compress = build_compress_job(config, ("sog", {}), run_id="docker", model=parse_s3_uri("s3://splatkit-test-bucket/model/"))
    train = build_train_job(config, ("gsplat", {}), run_id="docker", sfm_output=sfm.output)
    assert sfm.request["AppSpecification"]["ContainerEntrypoint"] == [*entry, "sfm"]
    assert compress.request["AppSpecification"]["ContainerEntrypoint"] == [*entry, "compress"]
    # Training uses the image's ENTRYPOINT; SageMaker appends "train".
    assert "ContainerEntrypoint" not in train.request["AlgorithmSpecification"]


def test_gsplat_kernels_are_built_at_image_build_time_for_t4_and_a10g() -> None:
    env = _env(BUILD)
    archs = env["TORCH_CUDA_ARCH_LIST"].split(";")
    assert {a.removesuffix("+PTX") for a in archs} >= {"7.5", "8.6"}
    assert any(a.endswith("+PTX") for a in archs), "PTX lets newer GPUs (g6, g6e) run the kernels"
    runs = BUILD.all("RUN")
    gsplat = [i for i, r in enumerate(runs) if "--no-binary gsplat" in r]
    assert gsplat, "gsplat must be built from source so that setup.py compiles gsplat.csrc"
    position = BUILD.instructions.index(("RUN", runs[gsplat[0]]))
    arch_env = next(i for i, (kw, rest) in enumerate(BUILD.instructions)
                    if kw == "ENV" and "TORCH_CUDA_ARCH_LIST" in rest)
    assert arch_env < position, "TORCH_CUDA_ARCH_LIST is set after gsplat is compiled"
    assert "sm_75" in runs[gsplat[0]] and "sm_86" in runs[gsplat[0]], "the build checks the compiled archs"


def test_the_bases_are_cuda_images_devel_to_build_and_runtime_to_run() -> None:
    assert len(STAGES) == 2 and BUILD.name == "build"
    cuda = GLOBAL_ARGS["CUDA_VERSION"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", cuda)
    assert BUILD.base == f"nvidia/cuda:{cuda}-devel-ubuntu{GLOBAL_ARGS['UBUNTU_VERSION']}"
    assert FINAL.base == f"nvidia/cuda:{cuda}-runtime-ubuntu{GLOBAL_ARGS['UBUNTU_VERSION']}"
    assert "--from=build" in " ".join(FINAL.all("COPY"))


def test_python_torch_and_gsplat_are_the_project_s() -> None:
    python = BUILD.args["PYTHON_VERSION"]
    assert python == "3.11" and FINAL.args["PYTHON_VERSION"] == python
    for stage in (BUILD, FINAL):
        assert any("python${PYTHON_VERSION}" in r for r in stage.all("RUN"))
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
    minimum = re.search(r'requires-python = ">=(\d+)\.(\d+)"', pyproject)
    assert minimum is not None and tuple(map(int, python.split("."))) >= (int(minimum[1]), int(minimum[2]))
    gsplat_pin = re.search(r'"gsplat==([^"]+)"', pyproject)
    assert gsplat_pin is not None and BUILD.args["GSPLAT_VERSION"] == gsplat_pin[1]
    readme = (PROJECT_ROOT / "README.md").read_text()
    torch_pin = re.search(r"pip install torch==(\S+)", readme)
    assert torch_pin is not None and BUILD.args["TORCH_VERSION"] == torch_pin[1]


def test_the_build_context_holds_what_the_copies_need() -> None:
    ignore = [line.strip() for line in IGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*"
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for rest in BUILD.all("COPY"):
        if rest.startswith("--from"):
            continue
        sources = rest.split()[:-1]
        for source in sources:
            assert source.rstrip("/") in kept, f"COPY {source}: excluded by {IGNORE.name}"
            assert (PROJECT_ROOT / source).exists()


def test_the_docs_build_command_names_this_file() -> None:
    docs = (PROJECT_ROOT / "docs" / "sagemaker.md").read_text()
    assert "docker build -f docker/Dockerfile" in docs
