"""SageMaker's own API model (botocore's ``sagemaker`` service model), read offline.

botocore ships the model AWS generates its SDKs from; it is the reference for every request
splatkit builds. Two uses:

* enum values (instance types, compression types) come from it, never from a list copied here;
* :func:`validate_request` checks a request against it twice: botocore's own
  ``validate_parameters`` (types, required members, unknown keys) and then what botocore leaves to
  the server and moto does not check at all: enum values, string/list/map length limits, integer
  ranges and the regular-expression patterns (job names, role ARNs, S3 URIs, environment keys...).

botocore is imported inside the functions (``import splatkit.sagemaker`` stays light); without it
they raise :class:`~splatkit.errors.BackendUnavailableError` naming the ``aws`` extra.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from splatkit.errors import BackendUnavailableError, InputError

__all__ = [
    "AWS_INSTALL_HINT",
    "enum_values",
    "operation_input_shape",
    "service_model",
    "validate_request",
]

AWS_INSTALL_HINT = "pip install 'splatkit[aws]'"


@functools.cache
def service_model() -> Any:
    """botocore's ``ServiceModel`` of SageMaker (loaded once, from the installed botocore)."""
    try:
        import botocore.session
    except ImportError as e:
        raise BackendUnavailableError("the SageMaker launcher needs botocore", kind="launcher",
                                      name="sagemaker", install_hint=AWS_INSTALL_HINT) from e
    return botocore.session.get_session().get_service_model("sagemaker")


def operation_input_shape(operation: str) -> Any:
    """The input shape of ``operation`` (e.g. ``"CreateTrainingJob"``)."""
    return service_model().operation_model(operation).input_shape


@functools.cache
def enum_values(shape_name: str) -> frozenset[str]:
    """The allowed values of the enum shape ``shape_name`` (e.g. ``"TrainingInstanceType"``)."""
    values = service_model().shape_for(shape_name).enum
    if not values:
        raise ValueError(f"botocore's SageMaker model has no enum shape {shape_name!r}")
    return frozenset(values)


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    # The model's patterns are Java regexes. Unicode property classes (\p{L}, used by tag
    # keys and values) have no equivalent in Python's re, and a few patterns spell surrogate
    # pairs as ranges re refuses; those patterns are left to the checks of the code that builds
    # the field (tags are checked in splatkit.sagemaker.config).
    if "\\p{" in pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _constraint_problems(value: Any, shape: Any, where: str) -> Iterator[str]:
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                yield from _constraint_problems(value[name], member, f"{where}.{name}")
        return
    if kind == "list" and isinstance(value, (list, tuple)):
        yield from _size_problems(len(value), meta, where, "items")
        for i, item in enumerate(value):
            yield from _constraint_problems(item, shape.member, f"{where}[{i}]")
        return
    if kind == "map" and isinstance(value, Mapping):
        yield from _size_problems(len(value), meta, where, "entries")
        for key, item in value.items():
            yield from _constraint_problems(key, shape.key, f"{where} key {key!r}")
            yield from _constraint_problems(item, shape.value, f"{where}[{key!r}]")
        return
    if kind == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            yield f"{where} = {value!r} is not one of SageMaker's {shape.name} values"
            return
        yield from _size_problems(len(value), meta, where, "characters")
        pattern = meta.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and not compiled.fullmatch(value):
            yield f"{where} = {value!r} does not match SageMaker's pattern {pattern!r}"
        return
    if kind in ("integer", "long") and isinstance(value, int) and not isinstance(value, bool):
        low, high = meta.get("min"), meta.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            yield f"{where} = {value} is outside SageMaker's range [{low}, {high}]"


def _size_problems(size: int, meta: Mapping[str, Any], where: str, unit: str) -> Iterator[str]:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and size < low:
        yield f"{where} has {size} {unit}, SageMaker wants at least {low}"
    if high is not None and size > high:
        yield f"{where} has {size} {unit}, SageMaker allows at most {high}"


def validate_request(operation: str, request: Mapping[str, Any]) -> None:
    """Check ``request`` for ``operation`` against botocore's SageMaker model.

    Raises
    ------
    InputError
        One line listing every problem found (``Field.Path = value`` and the rule it breaks).
    """
    from botocore.exceptions import ParamValidationError
    from botocore.validate import validate_parameters

    shape = operation_input_shape(operation)
    try:
        validate_parameters(dict(request), shape)
    except ParamValidationError as e:
        report = " ".join(str(e.kwargs.get("report", e)).split())
        raise InputError(f"{operation} request refused by botocore's model: {report}") from e
    problems = list(_constraint_problems(request, shape, operation))
    if problems:
        raise InputError(f"{operation} request breaks SageMaker's API model: " + "; ".join(problems))
