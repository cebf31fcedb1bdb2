"""The launcher's settings: who runs the jobs, where, on what, and how they are protected.

:class:`LauncherConfig` is frozen and checked when it is built: every bad value is one
:class:`~splatkit.errors.InputError` naming the setting, the value and the fix, raised before
anything talks to AWS. Validated (source in brackets):

* ``role_arn``: an IAM *role* ARN, ``arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`` (botocore's
  ``RoleArn`` pattern, IAM name rules);
* ``output``: an S3 location in any form :func:`splatkit.sagemaker.uris.parse_s3_uri` accepts,
  stored normalised as ``s3://bucket/prefix/``;
* ``image_uri``: an ECR image, ``ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn]/REPO[:TAG|@sha256:DIGEST]``
  (ECR repository and tag rules; <= 255 characters, botocore's ``ImageUri``);
* per stage (:class:`StageResources`): the instance type is in botocore's enum of the job type
  that runs the stage (:data:`splatkit.sagemaker.instances.STAGE_JOB_TYPES`), the volume is
  1-16384 GB, the run time is at most 9 days for processing (botocore ``ProcessingMaxRuntimeInSeconds``)
  and 28 days for training (botocore's doc of ``MaxRuntimeInSeconds``); ``volume_kms_key_id`` is
  refused on instance types with local NVMe storage (SageMaker rejects it there);
* ``spot``: managed spot applies to the training job only; ``max_wait_s`` >= the training run time
  (botocore's doc of ``MaxWaitTimeInSeconds``), default twice the run time;
* KMS keys: key id, ``mrk-`` id, ``alias/NAME`` or key/alias ARN;
* ``vpc``: 1-16 ``subnet-`` ids and 1-5 ``sg-`` ids (botocore ``VpcConfig``);
* ``tags``: keys 1-128 and values 0-256 characters of letters, digits, spaces and ``_.:/=+-@``,
  no ``aws:`` or ``splatkit:`` keys (the launcher sets its own ``splatkit:`` tags), at most
  :data:`MAX_USER_TAGS` (SageMaker allows 50 per job).

:func:`launcher_config_from_mapping` builds one from a TOML-shaped mapping (the
``--launcher-config`` file of ``splatkit sagemaker run``)::

    role_arn = "arn:aws:iam::123456789012:role/SplatkitSageMaker"
    output = "s3://my-bucket/splatkit"
    image_uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/splatkit:0.1.0"
    spot = true

    [train]                       # also [sfm], [compress]: StageResources fields
    instance_type = "ml.g4dn.xlarge"
    max_runtime_s = 21600

    [vpc]
    subnets = ["subnet-0123456789abcdef0"]
    security_group_ids = ["sg-0123456789abcdef0"]

    [tags]
    project = "site-42"
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from splatkit.errors import InputError
from splatkit.sagemaker.instances import (
    DEFAULT_INSTANCE_TYPES,
    STAGE_JOB_TYPES,
    check_instance_type,
    has_local_storage,
)
from splatkit.sagemaker.names import DEFAULT_JOB_PREFIX, check_job_prefix
from splatkit.sagemaker.uris import S3Uri, parse_s3_uri

__all__ = [
    "MAX_RUNTIME_S",
    "MAX_USER_TAGS",
    "MAX_VOLUME_SIZE_GB",
    "RESERVED_TAG_KEYS",
    "LauncherConfig",
    "StageResources",
    "VpcSettings",
    "check_kms_key_id",
    "check_role_arn",
    "check_image_uri",
    "launcher_config_from_mapping",
]

#: Longest run time per job type, seconds: 9 days (processing), 28 days (training).
MAX_RUNTIME_S: dict[str, int] = {"processing": 777_600, "training": 2_419_200}
MAX_VOLUME_SIZE_GB = 16_384
#: Tags the launcher puts on every job (see splatkit.sagemaker.jobs).
RESERVED_TAG_KEYS: tuple[str, ...] = ("splatkit:run", "splatkit:stage", "splatkit:attempt", "splatkit:request-sha256")
MAX_USER_TAGS = 50 - len(RESERVED_TAG_KEYS)

_PARTITION = r"aws(?:-cn|-us-gov|-iso(?:-[a-z])?)?"
_ROLE_ARN = re.compile(rf"arn:{_PARTITION}:iam::\d{{12}}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{{1,64}}", re.ASCII)
_ANY_IAM_ARN = re.compile(r"arn:[^:]*:iam::(?P<account>[^:]*):(?P<resource>[^/]*)/", re.ASCII)
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}"
_ECR_REPOSITORY = r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"
_ECR_IMAGE = re.compile(
    rf"(?P<account>\d{{12}})\.dkr\.ecr(?:-fips)?\.(?P<region>{_REGION})\.amazonaws\.com(?:\.cn)?"
    rf"/(?P<repository>{_ECR_REPOSITORY})(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})|@sha256:[0-9a-f]{{64}})?")
_KMS_KEY = re.compile(
    r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|alias/[a-zA-Z0-9/_-]{1,250}"
    rf"|arn:{_PARTITION}:kms:{_REGION}:\d{{12}}:(?:key/(?:[0-9a-f-]{{36}}|mrk-[0-9a-f]{{32}})|alias/[a-zA-Z0-9/_-]{{1,250}}))")
_SUBNET = re.compile(r"subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})")
_SECURITY_GROUP = re.compile(r"sg-(?:[0-9a-f]{8}|[0-9a-f]{17})")
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def _error(where: str, value: Any, problem: str, fix: str) -> InputError:
    return InputError(f"sagemaker config: {where} = {value!r} {problem}; {fix}")


def check_role_arn(role_arn: str, *, where: str = "role_arn") -> str:
    """Return ``role_arn`` if it is an IAM role ARN, else raise InputError saying what it is instead."""
    if isinstance(role_arn, str) and len(role_arn) <= 2048 and _ROLE_ARN.fullmatch(role_arn):
        return role_arn
    fix = "give the execution role's full ARN, e.g. arn:aws:iam::123456789012:role/SplatkitSageMaker"
    m = _ANY_IAM_ARN.match(role_arn) if isinstance(role_arn, str) else None
    if m is not None and m["resource"] != "role":
        problem = f"is an IAM {m['resource'] or 'resource'} ARN, not a role ARN"
    elif m is not None and not re.fullmatch(r"\d{12}", m["account"]):
        problem = f"has the account {m['account']!r}, not 12 digits"
    elif isinstance(role_arn, str) and not role_arn.startswith("arn:"):
        problem = "is not an ARN (a role name alone is not enough)"
    else:
        problem = "is not a valid IAM role ARN"
    raise _error(where, role_arn, problem, fix)


def check_image_uri(image_uri: str, *, where: str = "image_uri") -> str:
    """Return ``image_uri`` if it names an image in Amazon ECR, else raise InputError."""
    fix = ("push the image to ECR and give ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG "
           "(or @sha256:DIGEST); see docs/sagemaker.md")
    if not isinstance(image_uri, str) or not _ECR_IMAGE.fullmatch(image_uri):
        raise _error(where, image_uri, "is not an Amazon ECR image URI", fix)
    if len(image_uri) > 255:
        raise _error(where, image_uri, f"is {len(image_uri)} characters long", "SageMaker accepts at most 255")
    return image_uri


def check_kms_key_id(key: str, *, where: str) -> str:
    """Return ``key`` if it is a KMS key id, multi-region key id, alias, or key/alias ARN."""
    if isinstance(key, str) and len(key) <= 2048 and _KMS_KEY.fullmatch(key):
        return key
    raise _error(where, key, "is not a KMS key",
                 "give a key id (1234abcd-12ab-34cd-56ef-1234567890ab), alias/NAME or the key's ARN")


def _check_int(value: Any, low: int, high: int, *, where: str, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _error(where, value, "is not a whole number", f"give {unit} from {low} to {high}")
    if not low <= value <= high:
        raise _error(where, value, "is out of range", f"give {unit} from {low} to {high}")
    return value


@dataclass(frozen=True, kw_only=True)
class StageResources:
    """The machine of one stage's job.

    Attributes
    ----------
    instance_type : str
        SageMaker instance type (``ml.FAMILY.SIZE``).
    volume_size_gb : int
        Storage volume, GB. On NVMe instance types SageMaker uses the instance storage instead
        (training ignores the value; processing may not ask for more than the local disk).
    max_runtime_s : int
        The job is stopped after this many seconds (``StoppingCondition.MaxRuntimeInSeconds``).
    volume_kms_key_id : str or None
        KMS key of the storage volume; only on EBS-only instance types.
    """

    instance_type: str
    volume_size_gb: int = 50
    max_runtime_s: int = 24 * 3600
    volume_kms_key_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class VpcSettings:
    """Run the jobs in these private subnets with these security groups (tuples of ids)."""

    subnets: tuple[str, ...]
    security_group_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        for name, pattern, most, example in (("subnets", _SUBNET, 16, "subnet-0123456789abcdef0"),
                                             ("security_group_ids", _SECURITY_GROUP, 5, "sg-0123456789abcdef0")):
            where = f"vpc.{name}"
            values = getattr(self, name)
            if isinstance(values, str) or not isinstance(values, Sequence):
                raise _error(where, values, "is not a list of ids", f"give 1 to {most} ids like {example}")
            values = tuple(values)
            object.__setattr__(self, name, values)
            if not 1 <= len(values) <= most:
                raise _error(where, values, f"has {len(values)} ids", f"give 1 to {most}")
            for value in values:
                if not isinstance(value, str) or not pattern.fullmatch(value):
                    raise _error(where, value, "is not a valid id", f"ids look like {example}")
            if len(set(values)) != len(values):
                raise _error(where, values, "repeats an id", "list each id once")


def _default(kind: str) -> StageResources:
    return StageResources(instance_type=DEFAULT_INSTANCE_TYPES[kind])


def _tag_text_ok(text: str) -> bool:
    # TagKey/TagValue pattern of botocore: [\p{L}\p{Z}\p{N}_.:/=+\-@]* (letters, separators,
    # numbers and seven punctuation marks).
    return all(unicodedata.category(ch)[0] in "LZN" or ch in _TAG_PUNCTUATION for ch in text)


def _check_tags(tags: Any) -> tuple[tuple[str, str], ...]:
    items = list(tags.items()) if isinstance(tags, Mapping) else list(tags)
    if len(items) > MAX_USER_TAGS:
        raise _error("tags", f"{len(items)} tags", "is too many", f"SageMaker allows 50 per job, the launcher uses "
                     f"{len(RESERVED_TAG_KEYS)}: give at most {MAX_USER_TAGS}")
    seen: set[str] = set()
    checked = []
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and all(isinstance(x, str) for x in item)):
            raise _error("tags", item, "is not a (key, value) pair of strings", "give tags as {key: value}")
        key, value = item
        where = f"tags[{key!r}]"
        if not 1 <= len(key) <= 128 or not _tag_text_ok(key):
            raise _error(where, key, "is not a valid tag key",
                         "use 1-128 letters, digits, spaces and _ . : / = + - @")
        if len(value) > 256 or not _tag_text_ok(value):
            raise _error(where, value, "is not a valid tag value",
                         "use at most 256 letters, digits, spaces and _ . : / = + - @")
        if key.lower().startswith("aws:") or key.lower().startswith("splatkit:"):
            raise _error(where, key, "uses a reserved prefix", "keys starting with aws: or splatkit: are set by "
                         "AWS and the launcher; rename the tag")
        if key in seen:
            raise _error(where, key, "is given twice", "give each tag key once")
        seen.add(key)
        checked.append((key, value))
    return tuple(checked)


@dataclass(frozen=True, kw_only=True)
class LauncherConfig:
    """Everything the job builders need besides the stages themselves.

    Attributes
    ----------
    role_arn : str
        The SageMaker execution role (reads inputs, writes outputs, pulls the image).
    output : str
        S3 prefix for all runs; stored normalised (``s3://bucket/prefix/``).
    image_uri : str
        The splatkit container image in ECR (one image for all stages).
    sfm, train, compress : StageResources
        Machines per stage; defaults ml.c6i.2xlarge, ml.g5.xlarge, ml.c6i.4xlarge, 50 GB, 1 day.
    spot : bool
        Managed spot for the training job (processing jobs have no spot option).
    max_wait_s : int or None
        Spot only: longest wait for capacity plus run time; default twice ``train.max_runtime_s``.
    output_kms_key_id : str or None
        KMS key for the jobs' S3 outputs (training model output and processing outputs).
    vpc : VpcSettings or None
        Private networking; the subnets need S3 access (gateway endpoint or NAT).
    network_isolation : bool
        No network access for the container (SageMaker still moves inputs and outputs).
    tags : mapping or sequence of pairs
        Extra tags on every job; stored as a tuple of ``(key, value)``.
    job_prefix : str
        First part of every job name (see :func:`splatkit.sagemaker.names.job_name`).
    max_retry_attempts : int or None
        Training ``RetryStrategy`` (1-30; SageMaker retries on internal server errors only).
    model_compression : str
        Training ``OutputDataConfig.CompressionType``: ``NONE`` (default; the model arrives as
        files) or ``GZIP`` (``model.tar.gz``).
    """

    role_arn: str
    output: str
    image_uri: str
    sfm: StageResources = field(default_factory=lambda: _default("sfm"))
    train: StageResources = field(default_factory=lambda: _default("train"))
    compress: StageResources = field(default_factory=lambda: _default("compress"))
    spot: bool = False
    max_wait_s: int | None = None
    output_kms_key_id: str | None = None
    vpc: VpcSettings | None = None
    network_isolation: bool = False
    tags: Mapping[str, str] | tuple[tuple[str, str], ...] = ()
    job_prefix: str = DEFAULT_JOB_PREFIX
    max_retry_attempts: int | None = None
    model_compression: str = "NONE"

    def __post_init__(self) -> None:
        check_role_arn(self.role_arn)
        if not isinstance(self.output, str):
            raise _error("output", self.output, "is not a string", "give an S3 URI such as s3://bucket/prefix")
        object.__setattr__(self, "output", parse_s3_uri(self.output).as_prefix().uri)
        check_image_uri(self.image_uri)
        for kind in STAGE_JOB_TYPES:
            self._check_stage(kind)
        for name in ("spot", "network_isolation"):
            if not isinstance(getattr(self, name), bool):
                raise _error(name, getattr(self, name), "is not true or false", "give a boolean")
        if self.max_wait_s is not None:
            if not self.spot:
                raise _error("max_wait_s", self.max_wait_s, "is set without spot",
                             "set spot = true, or remove max_wait_s (it only applies to spot training)")
            if isinstance(self.max_wait_s, bool) or not isinstance(self.max_wait_s, int):
                raise _error("max_wait_s", self.max_wait_s, "is not a whole number", "give seconds")
            if self.max_wait_s < self.train.max_runtime_s:
                raise _error("max_wait_s", self.max_wait_s, f"is shorter than train.max_runtime_s "
                             f"({self.train.max_runtime_s})", "SageMaker needs max wait >= max run time; raise it")
        if self.output_kms_key_id is not None:
            check_kms_key_id(self.output_kms_key_id, where="output_kms_key_id")
        if self.vpc is not None and not isinstance(self.vpc, VpcSettings):
            raise _error("vpc", self.vpc, "is not a VpcSettings", "give VpcSettings(subnets=..., security_group_ids=...)")
        object.__setattr__(self, "tags", _check_tags(self.tags))
        check_job_prefix(self.job_prefix)
        if self.max_retry_attempts is not None:
            _check_int(self.max_retry_attempts, 1, 30, where="max_retry_attempts", unit="a count")
        if self.model_compression not in ("NONE", "GZIP"):
            raise _error("model_compression", self.model_compression, "is not a compression type",
                         "give NONE (files) or GZIP (model.tar.gz)")

    def _check_stage(self, kind: str) -> None:
        res = getattr(self, kind)
        if not isinstance(res, StageResources):
            raise _error(kind, res, "is not a StageResources", f"give StageResources(instance_type=...) for {kind}")
        job_type = STAGE_JOB_TYPES[kind]
        check_instance_type(res.instance_type, job_type, where=f"{kind}.instance_type")
        _check_int(res.volume_size_gb, 1, MAX_VOLUME_SIZE_GB, where=f"{kind}.volume_size_gb", unit="GB")
        _check_int(res.max_runtime_s, 1, MAX_RUNTIME_S[job_type], where=f"{kind}.max_runtime_s", unit="seconds")
        if res.volume_kms_key_id is not None:
            check_kms_key_id(res.volume_kms_key_id, where=f"{kind}.volume_kms_key_id")
            local = has_local_storage(res.instance_type)
            if local is not False:
                why = ("has local NVMe storage, which the hardware encrypts; SageMaker refuses a volume KMS key there"
                       if local else "is not known to splatkit to be EBS-only, and SageMaker refuses a volume KMS "
                       "key on instance types with local storage")
                raise _error(f"{kind}.volume_kms_key_id", res.volume_kms_key_id, f"cannot be used: {res.instance_type} "
                             f"{why}", f"remove {kind}.volume_kms_key_id or pick an EBS-only type (e.g. ml.c6i, ml.p3)")

    def resources(self, kind: str) -> StageResources:
        """The :class:`StageResources` of stage ``kind``."""
        if kind not in STAGE_JOB_TYPES:
            raise InputError(f"stage kind {kind!r} is unknown: use one of {', '.join(STAGE_JOB_TYPES)}")
        res: StageResources = getattr(self, kind)
        return res

    @property
    def output_uri(self) -> S3Uri:
        """``output`` as an :class:`~splatkit.sagemaker.uris.S3Uri`."""
        return parse_s3_uri(self.output)

    @property
    def spot_max_wait_s(self) -> int | None:
        """``MaxWaitTimeInSeconds`` of the training job: None without spot."""
        if not self.spot:
            return None
        return self.max_wait_s if self.max_wait_s is not None else 2 * self.train.max_runtime_s


_STAGE_TABLE_KEYS = frozenset(f.name for f in fields(StageResources))
_VPC_TABLE_KEYS = frozenset(f.name for f in fields(VpcSettings))
_TOP_LEVEL_KEYS = frozenset(f.name for f in fields(LauncherConfig))


def _table(value: Any, where: str, name: str, known: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(f"{where}: [{name}] must be a table, got {value!r}")
    unknown = sorted(set(value) - known)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {unknown} in [{name}]; known: {sorted(known)}")
    return dict(value)


def launcher_config_from_mapping(data: Mapping[str, Any], *, where: str = "launcher config") -> LauncherConfig:
    """A :class:`LauncherConfig` from a TOML-shaped mapping (see the module docstring).

    Top-level keys are ``LauncherConfig`` fields; the ``sfm``, ``train`` and ``compress`` tables
    hold :class:`StageResources` fields (a missing ``instance_type`` is the stage's default);
    ``vpc`` holds :class:`VpcSettings` fields; ``tags`` is a table of strings. ``where`` (a file
    name) prefixes the messages of unknown keys and tables.

    Raises
    ------
    InputError
        An unknown key or table, a table that is not one, or any value LauncherConfig refuses.
    """
    if not isinstance(data, Mapping):
        raise InputError(f"{where}: expected a table of launcher settings, got {data!r}")
    unknown = sorted(set(data) - _TOP_LEVEL_KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {unknown}; known: {sorted(_TOP_LEVEL_KEYS)}")
    kwargs: dict[str, Any] = dict(data)
    for kind in STAGE_JOB_TYPES:
        if kind in kwargs:
            values = _table(kwargs[kind], where, kind, _STAGE_TABLE_KEYS)
            values.setdefault("instance_type", DEFAULT_INSTANCE_TYPES[kind])
            kwargs[kind] = StageResources(**values)
    if kwargs.get("vpc") is not None:
        values = _table(kwargs["vpc"], where, "vpc", _VPC_TABLE_KEYS)
        missing = sorted(_VPC_TABLE_KEYS - set(values))
        if missing:
            raise InputError(f"{where}: [vpc] needs {missing} too; give the subnets and the security groups")
        kwargs["vpc"] = VpcSettings(**values)
    if "tags" in kwargs and not isinstance(kwargs["tags"], Mapping):
        raise InputError(f"{where}: [tags] must be a table of key = \"value\", got {kwargs['tags']!r}")
    missing = sorted({"role_arn", "output", "image_uri"} - set(kwargs))
    if missing:
        raise InputError(f"{where}: {', '.join(missing)} not given; set them in the file or with the command's "
                         "options (--role, the S3 prefix, --image)")
    return LauncherConfig(**kwargs)
