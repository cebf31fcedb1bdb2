"""A real plugin distribution, built and pip-installed offline, found through its entry point.

``examples/plugin_example`` is the plugin that ``docs/plugins.md`` walks through. It is copied
under ``tmp_path`` (setuptools writes ``build/`` and ``*.egg-info`` next to the sources), installed
with ``pip --target`` into an isolated folder, and used from fresh interpreters that have that
folder on ``PYTHONPATH``: exactly what a user's ``pip install`` gives splatkit to discover.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from splatkit.plugins import DISABLE_AUTOLOAD_ENV
from tests.conftest import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "examples" / "plugin_example"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("setuptools") is None,
                                reason="building the example plugin needs setuptools in this environment")


def _env(site: Path, tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (DISABLE_AUTOLOAD_ENV, "PYTHONPATH")}
    env.update(PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1", TMPDIR=str(tmp), PIP_NO_INPUT="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1", **extra)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``(site, sources)``: the example installed into ``site``; a copy of its sources."""
    root = tmp_path_factory.mktemp("plugin_install")
    sources = root / "plugin_example"
    shutil.copytree(EXAMPLE, sources, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = root / "site"
    # --no-index: nothing may come from the network; --no-build-isolation: use this venv's setuptools.
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
               "--target", str(site), str(sources)]
    done = subprocess.run(command, env=_env(site, root), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return site, sources


def _python(code: str, site: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=_env(site, cwd, **env),
                          capture_output=True, text=True, timeout=120)


RUN_THROUGH_REGISTRY = """
    import json, logging, sys
    from pathlib import Path
    import numpy as np
    from splatkit import GaussianCloud
    from splatkit.plugins import PluginManager
    from splatkit.stages import config_from_mapping

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    manager = PluginManager()
    stage_cls = manager.stages.require_available("compress", "npz-half")
    config = config_from_mapping(stage_cls.Config, {"deflate": "false"}, where="--compress-option")

    rng = np.random.default_rng(7)
    n = 500
    cloud = GaussianCloud(means=rng.normal(size=(n, 3)), log_scales=rng.normal(-4, 1, (n, 3)),
                          quats=rng.normal(size=(n, 4)), opacity_logits=rng.normal(size=n),
                          sh0=rng.normal(size=(n, 3)), shN=rng.normal(0, 0.1, (n, 8, 3)))
    workdir = Path("work")
    result = stage_cls().run(cloud, config, workdir)
    manager.stage_finished(stage_cls.qualified_name(), result.report, 0.5, [str(f) for f in result.files])

    decoded = sys.modules[stage_cls.__module__].decode_npz_half(result.output)
    heavy = sorted({"torch", "pycolmap", "gsplat", "boto3", "numba"} & set(sys.modules))
    print(json.dumps({
        "module": stage_cls.__module__, "file": sys.modules[stage_cls.__module__].__file__,
        "origin": manager.stages.origin("compress", "npz-half"),
        "distributions": manager.distributions(),
        "config": {"deflate": config.deflate, "keep_means_float32": config.keep_means_float32},
        "files": [str(f) for f in result.files], "on_disk": (workdir / "cloud.npz").stat().st_size,
        "bundle": {"format": result.output.format, "source_count": result.output.source_count,
                   "nbytes": result.output.nbytes, "members": sorted(result.output.members)},
        "max_error": {name: float(np.abs(getattr(decoded, name) - getattr(cloud, name)).max())
                      for name in ("means", "log_scales", "quats", "sh0", "shN")},
        "sh_degree": decoded.sh_degree, "heavy": heavy,
    }))
"""


def test_installed_plugin_is_discovered_and_runs_through_the_registry(installed: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    site, _ = installed
    done = _python(RUN_THROUGH_REGISTRY, site, tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)

    assert out["module"] == "splatkit_example_plugin"
    assert Path(out["file"]).parent == site  # the installed copy, not the repository's
    assert out["origin"] == "my_plugin"
    assert ["splatkit-example-plugin", "0.1.0"] in out["distributions"]
    assert out["config"] == {"deflate": False, "keep_means_float32": True}
    assert out["files"] == ["work/cloud.npz"] and out["on_disk"] == out["bundle"]["nbytes"]
    assert out["bundle"] == {"format": "npz-half", "source_count": 500, "nbytes": out["on_disk"],
                             "members": ["cloud.npz"]}
    assert out["max_error"]["means"] == 0.0
    assert 0.0 < out["max_error"]["log_scales"] <= 8.0 * 2.0**-11  # |log_scales| < 8 here; float16 rounding
    assert out["sh_degree"] == 2
    assert out["heavy"] == []
    # The plugin's splatkit_stage_finished hook logged the metrics line.
    assert '"stage": "compress/npz-half"' in done.stderr and '"gaussians": 500' in done.stderr


def _splatkit(args: list[str], site: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "splatkit", *args], cwd=cwd, env=_env(site, cwd, **env),
                          capture_output=True, text=True, timeout=120)


def test_cli_info_and_decompress_read_the_plugins_format_through_the_registry(installed: tuple[Path, Path],
                                                                            tmp_path: Path) -> None:
    # `splatkit info` and `decompress` know formats only through splatkit_register_formats: the
    # plugin's npz-half files work like the built-in formats, and not at all without the plugin.
    site, _ = installed
    made = _python(RUN_THROUGH_REGISTRY, site, tmp_path)
    assert made.returncode == 0, made.stderr

    info = _splatkit(["info", "work/cloud.npz", "--json"], site, tmp_path)
    assert info.returncode == 0, info.stderr
    described = json.loads(info.stdout)
    assert list(described)[0] == "type" and described["type"] == "npz-half"
    assert described["gaussians"] == 500 and described["sh_degree"] == 2

    out = tmp_path / "decoded.ply"
    decompressed = _splatkit(["decompress", "work/cloud.npz", str(out)], site, tmp_path)
    assert decompressed.returncode == 0, decompressed.stderr
    assert "500 Gaussians, SH degree 2" in decompressed.stdout
    from splatkit.io.ply import read_ply

    cloud = read_ply(out)
    assert len(cloud) == 500 and cloud.sh_degree == 2

    listed = _splatkit(["plugins", "--json"], site, tmp_path)
    assert listed.returncode == 0, listed.stderr
    plugins = json.loads(listed.stdout)
    assert {"kind": "format", "name": "npz-half", "from": "my_plugin"}.items() <= next(
        f for f in plugins["formats"] if f["name"] == "npz-half").items()
    assert ("sfm", "colmap-scene", "my_plugin") in {(s["kind"], s["name"], s["from"]) for s in plugins["stages"]}

    hidden = _splatkit(["info", "work/cloud.npz"], site, tmp_path, **{DISABLE_AUTOLOAD_ENV: "1"})
    assert hidden.returncode != 0 and "not a format splatkit knows" in hidden.stderr
    assert "Traceback" not in hidden.stderr


def test_disable_autoload_hides_the_installed_plugin(installed: tuple[Path, Path], tmp_path: Path) -> None:
    site, _ = installed
    code = """
        import json
        from splatkit import PluginError
        from splatkit.plugins import PluginManager
        manager = PluginManager()
        try:
            found = manager.stages.get("compress", "npz-half").__module__
        except PluginError as e:
            found = str(e)
        print(json.dumps({"plugins": manager.plugin_names(), "found": found}))
    """
    hidden = _python(code, site, tmp_path, **{DISABLE_AUTOLOAD_ENV: "1"})
    shown = _python(code, site, tmp_path)  # the same interpreter setup with autoload on: the check flips
    assert hidden.returncode == 0 and shown.returncode == 0, hidden.stderr + shown.stderr
    hidden_out, shown_out = json.loads(hidden.stdout), json.loads(shown.stdout)

    assert "my_plugin" not in hidden_out["plugins"]
    assert hidden_out["found"].startswith("unknown compress backend 'npz-half'; registered:")
    assert "my_plugin" in shown_out["plugins"] and shown_out["found"] == "splatkit_example_plugin"


def test_the_example_plugins_own_tests_pass(installed: tuple[Path, Path]) -> None:
    # The tests docs/plugins.md tells plugin authors to write, run as an author would.
    site, sources = installed
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=sources,
                          env=_env(site, sources), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
