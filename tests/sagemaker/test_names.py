"""Job names: SageMaker's pattern and length always, deterministic, distinct for distinct inputs."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splatkit.errors import InputError
from splatkit.sagemaker.names import (
    JOB_NAME_PATTERN,
    MAX_ATTEMPT,
    MAX_JOB_NAME_LENGTH,
    check_job_prefix,
    check_run_id,
    job_name,
)
from splatkit.stages import STAGE_KINDS

# SageMaker's own pattern, written out here rather than imported, anchored as the API applies it.
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")

run_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True)
kinds = st.sampled_from(sorted(STAGE_KINDS))
attempts = st.integers(1, MAX_ATTEMPT)
prefixes = st.from_regex(r"[a-z0-9]{1,6}(-[a-z0-9]{1,6}){0,2}", fullmatch=True)


def test_clean_run_ids_are_used_as_written() -> None:
    assert job_name("flight-7", "train", 2) == "splatkit-flight-7-train-a2"
    assert job_name("r1", "sfm") == "splatkit-r1-sfm-a1"
    assert job_name("r1", "compress", 3, prefix="acme-splat") == "acme-splat-r1-compress-a3"


def test_unclean_run_ids_keep_a_readable_part_and_a_hash() -> None:
    name = job_name("Flight_7.retake", "sfm")
    assert re.fullmatch(r"splatkit-flight-7-retake-[0-9a-f]{8}-sfm-a1", name), name
    long_id = "survey-" + "x" * 57
    name = job_name(long_id, "compress", MAX_ATTEMPT, prefix="p" * 20)
    assert len(name) <= MAX_JOB_NAME_LENGTH and name.endswith(f"-compress-a{MAX_ATTEMPT}")
    assert name.startswith("p" * 20 + "-survey-xxx")


def test_names_differing_only_in_case_or_punctuation_stay_distinct() -> None:
    # SageMaker lower-cases job ARNs, so 'Run1' and 'run1' must not give the same name.
    ids = ["run1", "Run1", "RUN1", "a_b", "a.b", "a-b", "a--b", "ab"]
    names = [job_name(i, "train") for i in ids]
    assert len(set(names)) == len(ids)
    assert all(n == n.lower() for n in names)


@given(run_id=run_ids, kind=kinds, attempt=attempts, prefix=prefixes)
def test_every_name_matches_sagemakers_pattern_and_length(run_id: str, kind: str, attempt: int, prefix: str) -> None:
    name = job_name(run_id, kind, attempt, prefix=prefix)
    assert SAGEMAKER_NAME.match(name) and JOB_NAME_PATTERN.fullmatch(name)
    assert len(name) <= MAX_JOB_NAME_LENGTH
    assert name == name.lower()
    assert name.startswith(prefix + "-") and name.endswith(f"-{kind}-a{attempt}")
    assert name == job_name(run_id, kind, attempt, prefix=prefix)  # deterministic


@given(st.lists(st.tuples(run_ids, kinds, attempts), min_size=2, max_size=30, unique=True))
def test_distinct_inputs_give_distinct_names(jobs: list[tuple[str, str, int]]) -> None:
    names = [job_name(*job) for job in jobs]
    assert len(set(names)) == len(names)


@given(st.lists(st.from_regex(r"[a-z][a-z0-9]{70,90}", fullmatch=True), min_size=2, max_size=10, unique=True))
def test_long_run_ids_sharing_a_start_stay_distinct(tails: list[str]) -> None:
    names = [job_name(("survey-2024-" + t)[:64], "train") for t in tails]
    ids = [("survey-2024-" + t)[:64] for t in tails]
    assert len(set(names)) == len(set(ids))


@pytest.mark.parametrize("run_id", ["", "-x", ".x", "a/b", "a b", "a:b", "x" * 65, "é", None, 7])
def test_unusable_run_ids_are_refused(run_id: object) -> None:
    with pytest.raises(InputError, match="run id"):
        check_run_id(run_id)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="run id"):
        job_name(run_id, "sfm")  # type: ignore[arg-type]


@pytest.mark.parametrize("prefix", ["", "Splatkit", "a--b", "-a", "a-", "a_b", "p" * 21])
def test_unusable_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(InputError, match="prefix"):
        check_job_prefix(prefix)


@pytest.mark.parametrize("attempt", [0, -1, MAX_ATTEMPT + 1, True, 1.0, "1"])
def test_unusable_attempts_are_refused(attempt: object) -> None:
    with pytest.raises(InputError, match="attempt"):
        job_name("r1", "sfm", attempt)  # type: ignore[arg-type]


def test_unknown_stage_kind_is_refused() -> None:
    with pytest.raises(InputError, match="stage kind 'render'"):
        job_name("r1", "render")
