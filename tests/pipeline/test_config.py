"""Pipeline options: TOML file, flags, --set, and the printed config reading back the same."""

from __future__ import annotations

import pytest

from splatkit import ContractError, InputError
from splatkit.pipeline.config import (
    DEFAULT_BACKENDS,
    PipelineOptions,
    load_config_file,
    parse_assignment,
    to_toml,
)
from splatkit.pipeline.runner import resolve_stages
from splatkit.stages import config_to_dict


def test_defaults_are_the_issue_s_backends(manager) -> None:
    # The pipeline names no backend; the registry's ranks make the issue's defaults.
    assert DEFAULT_BACKENDS == {"sfm": "auto", "train": "auto", "compress": "auto"}
    resolved = resolve_stages(PipelineOptions(), manager.stages, require_available=False)
    assert [r.backend for r in resolved][::2] == ["pycolmap", "sog"]
    assert resolved[1].backend in ("gsplat", "cpu")


def test_parse_assignment() -> None:
    assert parse_assignment("train.steps=2000") == ("train", "steps", "2000")
    assert parse_assignment(" compress.order = plas ") == ("compress", "order", "plas")
    for bad in ("steps=2000", "render.steps=1", "train.steps", "train.=3"):
        with pytest.raises(InputError, match="STAGE.OPTION=VALUE"):
            parse_assignment(bad)


def test_toml_file_then_flags_override(tmp_path, manager) -> None:
    path = tmp_path / "splat.toml"
    path.write_text('[train]\nbackend = "fake"\nsteps = 9\nseed = 2\n[compress]\nbackend = "ply"\nsh_degree = 1\n')
    options = PipelineOptions().merged(load_config_file(path))
    options = options.merged(PipelineOptions(backends={"sfm": "fake"}, options={"train": {"steps": "11"}}))
    resolved = {r.kind: r for r in resolve_stages(options, manager.stages)}
    assert {k: r.backend for k, r in resolved.items()} == {"sfm": "fake", "train": "fake", "compress": "ply"}
    assert (resolved["train"].config.steps, resolved["train"].config.seed) == (11, 2)
    assert resolved["compress"].config.sh_degree == 1


def test_unknown_option_and_section_are_refused(tmp_path, manager) -> None:
    options = PipelineOptions(backends={"sfm": "fake", "train": "fake", "compress": "ply"},
                              options={"train": {"stepz": 3}})
    with pytest.raises(ContractError, match=r"train/fake: unknown option\(s\) \['stepz'\]"):
        resolve_stages(options, manager.stages)
    path = tmp_path / "bad.toml"
    path.write_text("[render]\nx = 1\n")
    with pytest.raises(InputError, match="unknown section"):
        load_config_file(path)
    path.write_text("[train\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_config_file(path)


def test_none_word_sets_an_optional_option_to_none(manager) -> None:
    options = PipelineOptions(backends={"sfm": "fake", "train": "fake", "compress": "ply"},
                              options={"compress": {"sh_degree": "none"}})
    assert resolve_stages(options, manager.stages)[2].config.sh_degree is None


def test_printed_config_reads_back_to_the_same_options(tmp_path, manager) -> None:
    options = PipelineOptions(backends={"sfm": "pycolmap", "train": "cpu", "compress": "sog"},
                              options={"train": {"steps": "123", "lr_means": "1e-5"},
                                       "compress": {"order": "morton", "palette_size": "none"}})
    resolved = resolve_stages(options, manager.stages, require_available=False)
    text = to_toml({r.kind: (r.backend, r.config) for r in resolved})
    path = tmp_path / "printed.toml"
    path.write_text(text)
    again = resolve_stages(PipelineOptions().merged(load_config_file(path)), manager.stages,
                           require_available=False)
    assert [(r.backend, _effective(r)) for r in again] == [(r.backend, _effective(r)) for r in resolved]
    assert resolved[1].config.steps == 123 and resolved[1].config.lr_means == 1e-5
    # The printed training options are the ones the run uses: the quality preset filled in.
    assert config_to_dict(again[1].config) == _effective(resolved[1])


def _effective(resolved) -> dict:
    """A stage's options as it will run them (training: its quality preset filled in)."""
    for_backend = getattr(resolved.config, "for_backend", None)
    config = for_backend(resolved.backend)[0] if for_backend else resolved.config
    return config_to_dict(config)


def test_printed_training_config_shows_the_quality_preset_and_its_table(manager) -> None:
    options = PipelineOptions(backends={"sfm": "pycolmap", "train": "cpu", "compress": "sog"})
    resolved = resolve_stages(options, manager.stages, require_available=False)
    text = to_toml({r.kind: (r.backend, r.config) for r in resolved})
    train = text.split("[train]")[1].split("[compress]")[0]
    assert "# quality preview (auto: training on the CPU" in train
    assert "# quality presets on cpu: preview: 15 min budget" in train and "high:" in train
    for line in ('quality = "preview"', "minutes = 15.0", "max_image_size = 640", "max_gaussians = 80000",
                 "reset_every = 0", "# downscale = (none)"):
        assert line in train.splitlines(), line
    gsplat = to_toml({"train": ("gsplat", resolved[1].config)})
    assert 'quality = "standard"' in gsplat and "minutes = 0.0" in gsplat and "steps = 7000" in gsplat


def test_auto_train_backend_says_why(manager) -> None:
    resolved = resolve_stages(PipelineOptions(backends={"sfm": "fake", "train": "auto", "compress": "ply"}),
                              manager.stages, require_available=False)
    train = resolved[1]
    assert train.backend in ("gsplat", "cpu") and train.note.startswith(f"auto: {train.backend}")


def test_auto_asks_the_registry_so_a_plugin_backend_can_be_the_default() -> None:
    """The pipeline names no backend: a plugin with a higher default_rank that can run wins."""
    from splatkit import Stage, hookimpl
    from splatkit.pipeline.runner import resolve_stage
    from splatkit.plugins import PluginManager
    from splatkit.train.trainer import TrainConfig

    class Faster(Stage):
        kind, name, Config, default_rank = "train", "faster", TrainConfig, 1000

    class Plugin:
        @hookimpl
        def splatkit_register_stages(self, registry) -> None:
            registry.add(Faster)

    manager = PluginManager(load_entrypoints=False)
    manager.register(Plugin(), "faster-plugin")
    resolved = resolve_stage("train", "auto", {"steps": "10"}, manager.stages)
    assert (resolved.backend, resolved.note) == ("faster", "auto: faster")
    assert resolved.config.steps == 10
    for kind, builtin in (("sfm", "pycolmap"), ("compress", "sog")):
        assert manager.stages.default_candidates(kind)[0].name == builtin
