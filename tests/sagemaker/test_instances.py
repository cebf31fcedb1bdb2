"""Instance types come from botocore's model; every family in it is classified for local storage."""

from __future__ import annotations

import pytest

from splatkit.errors import InputError
from splatkit.sagemaker.instances import (
    DEFAULT_INSTANCE_TYPES,
    EBS_ONLY_FAMILIES,
    LOCAL_STORAGE_FAMILIES,
    STAGE_JOB_TYPES,
    check_instance_type,
    has_local_storage,
    instance_family,
    instance_types,
)
from splatkit.stages import STAGE_KINDS

pytest.importorskip("botocore")


def test_every_stage_kind_has_a_job_type_and_a_default_type_valid_for_it() -> None:
    assert set(STAGE_JOB_TYPES) == set(STAGE_KINDS) == set(DEFAULT_INSTANCE_TYPES)
    for kind, instance_type in DEFAULT_INSTANCE_TYPES.items():
        assert instance_type in instance_types(STAGE_JOB_TYPES[kind])
    assert DEFAULT_INSTANCE_TYPES == {"sfm": "ml.c6i.2xlarge", "train": "ml.g5.xlarge", "compress": "ml.c6i.4xlarge"}


def test_every_family_in_botocores_enums_is_classified() -> None:
    # Fails when a botocore update adds an instance family: classify it in instances.py.
    families = {instance_family(t) for job_type in ("processing", "training") for t in instance_types(job_type)}
    assert LOCAL_STORAGE_FAMILIES.isdisjoint(EBS_ONLY_FAMILIES)
    unclassified = families - LOCAL_STORAGE_FAMILIES - EBS_ONLY_FAMILIES
    assert unclassified == set(), f"classify these families in splatkit/sagemaker/instances.py: {sorted(unclassified)}"


@pytest.mark.parametrize(("instance_type", "local"), [
    ("ml.g4dn.xlarge", True), ("ml.g5.xlarge", True), ("ml.p3dn.24xlarge", True), ("ml.p4d.24xlarge", True),
    ("ml.g6.xlarge", True), ("ml.c6i.2xlarge", False), ("ml.c6i.4xlarge", False), ("ml.p3.2xlarge", False),
    ("ml.m5.xlarge", False), ("ml.x9.huge", None),
])
def test_local_storage(instance_type: str, local: bool | None) -> None:
    assert has_local_storage(instance_type) is local


@pytest.mark.parametrize("text", ["g5.xlarge", "ml.g5", "ml..xlarge", "ml.g5.xlarge.x", ""])
def test_malformed_instance_types(text: str) -> None:
    with pytest.raises(InputError, match="ml.FAMILY.SIZE"):
        instance_family(text)


def test_training_only_type_for_a_processing_stage_says_so() -> None:
    with pytest.raises(InputError, match="runs training jobs only") as info:
        check_instance_type("ml.p4d.24xlarge", "processing", where="sfm.instance_type")
    assert "sfm.instance_type = 'ml.p4d.24xlarge'" in str(info.value)


def test_typo_suggests_the_closest_types() -> None:
    with pytest.raises(InputError, match=r"did you mean .*ml\.g5\.xlarge"):
        check_instance_type("ml.g5.xlarg", "training", where="train.instance_type")
    with pytest.raises(InputError, match=r"ml\.g5\.xlarge"):
        check_instance_type("g5.xlarge", "training", where="train.instance_type")
