"""What every compression backend checks of its input and options, and the SH cap they share."""

from __future__ import annotations

from typing import Any

from splatkit.contracts import GaussianCloud
from splatkit.contracts.gaussians import SH_COEFFS_FOR_DEGREE
from splatkit.errors import ContractError

__all__ = ["checked_input", "cap_sh_degree"]


def checked_input(stage: str, input: Any, config: Any, config_cls: type) -> GaussianCloud:
    """``input`` as a validated GaussianCloud for ``stage`` (``"compress/spz"``).

    Raises
    ------
    ContractError
        ``config`` is not a ``config_cls``, ``input`` not a GaussianCloud, or it holds NaN/Inf.
    """
    if not isinstance(config, config_cls):
        raise ContractError(f"{stage} expects a {config_cls.__name__}, got {type(config).__name__}",
                            field="config", expected=config_cls.__name__, actual=type(config).__name__)
    if not isinstance(input, GaussianCloud):
        raise ContractError(f"{stage} expects a GaussianCloud, got {type(input).__name__}",
                            field="input", expected="GaussianCloud", actual=type(input).__name__)
    return input.validate(source=f"{stage} input")


def cap_sh_degree(cloud: GaussianCloud, sh_degree: int | None) -> GaussianCloud:
    """A cloud with SH bands above ``sh_degree`` dropped (``shN`` is coefficient-major, so slice K)."""
    if sh_degree is None or sh_degree >= cloud.sh_degree:
        return cloud
    return GaussianCloud(means=cloud.means, log_scales=cloud.log_scales, quats=cloud.quats,
                         opacity_logits=cloud.opacity_logits, sh0=cloud.sh0,
                         shN=cloud.shN[:, :SH_COEFFS_FOR_DEGREE[sh_degree]], georeference=cloud.georeference)
