"""The pipeline's own first look at a photo ZIP meets the same hostile archives as the readers."""

from __future__ import annotations

from pathlib import Path

import pytest

from splatkit.errors import SplatkitError
from tests.hostile.generators import CASES


def test_check_photo_source_raises_only_splatkit_errors(tmp_path: Path) -> None:
    from splatkit.pipeline.runner import check_photo_source

    for case in (c for c in CASES if c.reader == "zip"):
        folder = tmp_path / case.name
        folder.mkdir()
        try:
            check_photo_source(case.make(folder))
        except SplatkitError:
            pass


def test_input_digest_refuses_what_extraction_refuses(tmp_path: Path) -> None:
    """One safe path: the digest never reads an archive the extractor would refuse."""
    from splatkit.io.safe_zip import extract_zip
    from splatkit.pipeline.manifest import digest_source

    for case in (c for c in CASES if c.reader == "zip"):
        folder = tmp_path / case.name
        folder.mkdir()
        made = case.make(folder)
        outcomes = []
        for read in (lambda: digest_source(made), lambda: extract_zip(made, folder / "out")):
            try:
                read()
                outcomes.append("ok")
            except SplatkitError:
                outcomes.append("refused")
        assert outcomes == ["refused", "refused"], (case.name, outcomes)
