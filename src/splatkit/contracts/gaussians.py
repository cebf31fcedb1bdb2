"""The Gaussian cloud: what training produces and compression consumes."""

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike

from splatkit.contracts._checks import as_readonly_array, check_finite
from splatkit.contracts.georeference import Georeference
from splatkit.errors import ContractError

__all__ = ["GaussianCloud", "SH_COEFFS_FOR_DEGREE", "sh_degree_for_coeffs"]

#: Number of higher-order SH coefficients per colour channel (``K``) for each SH degree.
SH_COEFFS_FOR_DEGREE: dict[int, int] = {0: 0, 1: 3, 2: 8, 3: 15}


def sh_degree_for_coeffs(k: int) -> int:
    """SH degree whose higher-order coefficient count is ``k`` (0, 3, 8 or 15)."""
    for degree, count in SH_COEFFS_FOR_DEGREE.items():
        if count == k:
            return degree
    raise ContractError(f"shN has {k} coefficients per channel; expected one of 0, 3, 8, 15",
                        field="GaussianCloud.shN", expected=(0, 3, 8, 15), actual=k)


@dataclass(frozen=True, kw_only=True, eq=False)
class GaussianCloud:
    """N anisotropic 3D Gaussians in world space, in the 3DGS PLY conventions (pre-activation).

    Attributes
    ----------
    means : float32 [N, 3]
        Centres in the world frame of the :class:`Reconstruction` they were trained on.
    log_scales : float32 [N, 3]
        Natural log of the standard deviations along the local axes (PLY ``scale_0..2``).
    quats : float32 [N, 4]
        Rotations as quaternions ``(w, x, y, z)``, not necessarily normalised (``rot_0..3``).
    opacity_logits : float32 [N]
        Inverse-sigmoid of opacity (PLY ``opacity``).
    sh0 : float32 [N, 3]
        DC spherical-harmonic coefficient per colour channel (PLY ``f_dc_0..2``).
    shN : float32 [N, K, 3]
        Higher-order SH coefficients, K in {0, 3, 8, 15} for degree 0..3; coefficient-major here,
        while the PLY stores them channel-major (``f_rest_{c*K + k}``).
    georeference : Georeference or None
        ENU origin when the world frame is georeferenced.
    """

    means: np.ndarray
    log_scales: np.ndarray
    quats: np.ndarray
    opacity_logits: np.ndarray
    sh0: np.ndarray
    shN: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3), np.float32))
    georeference: Georeference | None = None

    def __post_init__(self) -> None:
        sizes: dict[str, int] = {}
        f32 = np.float32
        means = as_readonly_array(self.means, "GaussianCloud.means", dtype=f32, shape=("N", 3), sizes=sizes)
        shn_in = np.asarray(self.shN)
        if shn_in.size == 0 and shn_in.ndim == 3 and shn_in.shape[1] == 0:
            shn_in = np.zeros((sizes["N"], 0, 3), np.float32)
        arrays = {
            "means": means,
            "log_scales": as_readonly_array(self.log_scales, "GaussianCloud.log_scales", dtype=f32,
                                            shape=("N", 3), sizes=sizes),
            "quats": as_readonly_array(self.quats, "GaussianCloud.quats", dtype=f32, shape=("N", 4),
                                       sizes=sizes),
            "opacity_logits": as_readonly_array(self.opacity_logits, "GaussianCloud.opacity_logits",
                                                dtype=f32, shape=("N",), sizes=sizes),
            "sh0": as_readonly_array(self.sh0, "GaussianCloud.sh0", dtype=f32, shape=("N", 3), sizes=sizes),
            "shN": as_readonly_array(shn_in, "GaussianCloud.shN", dtype=f32, shape=("N", "K", 3),
                                     sizes=sizes),
        }
        sh_degree_for_coeffs(arrays["shN"].shape[1])
        for name, arr in arrays.items():
            object.__setattr__(self, name, arr)
        if self.georeference is not None and not isinstance(self.georeference, Georeference):
            raise ContractError("GaussianCloud.georeference must be a Georeference or None",
                                field="GaussianCloud.georeference")

    def __len__(self) -> int:
        return int(self.means.shape[0])

    @property
    def sh_degree(self) -> int:
        """SH degree 0..3 implied by ``shN``."""
        return sh_degree_for_coeffs(self.shN.shape[1])

    def validate(self, *, source: str = "") -> "GaussianCloud":
        """Check values: every array finite. Returns ``self`` so calls chain.

        Raises
        ------
        ContractError
            Naming the field and the first bad index.
        """
        for name in ("means", "log_scales", "quats", "opacity_logits", "sh0", "shN"):
            check_finite(getattr(self, name), f"GaussianCloud.{name}", source=source)
        return self

    def subset(self, index: ArrayLike) -> "GaussianCloud":
        """A new cloud with the Gaussians selected by ``index`` (bool mask [N] or int indices)."""
        idx = np.asarray(index)
        return replace(
            self,
            means=self.means[idx], log_scales=self.log_scales[idx], quats=self.quats[idx],
            opacity_logits=self.opacity_logits[idx], sh0=self.sh0[idx], shN=self.shN[idx],
        )

    def equals(self, other: "GaussianCloud") -> bool:
        """Exact equality of every array and the georeference."""
        return (
            self.georeference == other.georeference
            and all(
                np.array_equal(getattr(self, n), getattr(other, n))
                for n in ("means", "log_scales", "quats", "opacity_logits", "sh0", "shN")
            )
        )
