"""Numba kernels of the CPU rasterizer's per-Gaussian stages, with hand-written backward passes.

Projection (gsplat 1.5.3 ``ProjectionEWA3DGSFused.cu``/``Utils.cuh``: pinhole EWA with the
Jacobian's x/y clamped to the FOV plus 30 %, ``eps2d`` blur, Mip-Splatting compensation,
opacity-aware per-axis radius, off-image cull) and SH colours (gsplat's Sloan-form basis up to
degree 3 at the normalised view direction, ``max(SH + 0.5, 0)``). One Gaussian is one parallel
iteration; it loops over the cameras, so backward accumulates without races.

The covariance is never formed: with ``RM = R_cam R_q diag(s)`` and the 2x3 Jacobian
``J = [[ja, 0, jb], [0, jc, jd]]``, ``T = J RM`` has rows ``T0 = ja RM0 + jb RM2`` and
``T1 = jc RM1 + jd RM2``, and the 2D covariance is ``T T^T``. The backward passes are checked
against finite differences (tests/render).

As in :mod:`splatkit.render._tile_kernels`, this module imports without numba and
:func:`compiled_gaussian_kernels` compiles it.
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np

prange = range  # rebound to numba.prange by compiled_gaussian_kernels()

ALPHA_THRESHOLD = 1.0 / 255.0
MAX_EXTEND = 3.33


def _project_fwd(
    means, quats, scales, opacities, viewmats, Ks, width, height, near, far, eps2d, radius_clip,
    antialiased, means2d, conics, opac_out, depths, radii, comps,
):  # pragma: no cover
    """Project ``N`` Gaussians into ``C`` cameras; culled entries get radius 0 and zeros."""
    n_cams = viewmats.shape[0]
    for n in prange(means.shape[0]):
        qw = quats[n, 0]
        qx = quats[n, 1]
        qy = quats[n, 2]
        qz = quats[n, 3]
        inv = 1.0 / math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
        w = qw * inv
        x = qx * inv
        y = qy * inv
        z = qz * inv
        rq00 = 1 - 2 * (y * y + z * z)
        rq01 = 2 * (x * y - w * z)
        rq02 = 2 * (x * z + w * y)
        rq10 = 2 * (x * y + w * z)
        rq11 = 1 - 2 * (x * x + z * z)
        rq12 = 2 * (y * z - w * x)
        rq20 = 2 * (x * z - w * y)
        rq21 = 2 * (y * z + w * x)
        rq22 = 1 - 2 * (x * x + y * y)
        s0 = scales[n, 0]
        s1 = scales[n, 1]
        s2 = scales[n, 2]
        for cam in range(n_cams):
            V = viewmats[cam]
            px = V[0, 0] * means[n, 0] + V[0, 1] * means[n, 1] + V[0, 2] * means[n, 2] + V[0, 3]
            py = V[1, 0] * means[n, 0] + V[1, 1] * means[n, 1] + V[1, 2] * means[n, 2] + V[1, 3]
            pz = V[2, 0] * means[n, 0] + V[2, 1] * means[n, 1] + V[2, 2] * means[n, 2] + V[2, 3]
            depths[cam, n] = pz
            radii[cam, n, 0] = 0
            radii[cam, n, 1] = 0
            means2d[cam, n, 0] = 0.0
            means2d[cam, n, 1] = 0.0
            conics[cam, n, 0] = 0.0
            conics[cam, n, 1] = 0.0
            conics[cam, n, 2] = 0.0
            opac_out[cam, n] = 0.0
            comps[cam, n] = 0.0
            if pz < near or pz > far:
                continue
            fx = Ks[cam, 0, 0]
            fy = Ks[cam, 1, 1]
            cx = Ks[cam, 0, 2]
            cy = Ks[cam, 1, 2]
            # RM = V[:3,:3] @ Rq @ diag(s), rows a, b, c.
            a0 = (V[0, 0] * rq00 + V[0, 1] * rq10 + V[0, 2] * rq20) * s0
            a1 = (V[0, 0] * rq01 + V[0, 1] * rq11 + V[0, 2] * rq21) * s1
            a2 = (V[0, 0] * rq02 + V[0, 1] * rq12 + V[0, 2] * rq22) * s2
            b0 = (V[1, 0] * rq00 + V[1, 1] * rq10 + V[1, 2] * rq20) * s0
            b1 = (V[1, 0] * rq01 + V[1, 1] * rq11 + V[1, 2] * rq21) * s1
            b2 = (V[1, 0] * rq02 + V[1, 1] * rq12 + V[1, 2] * rq22) * s2
            c0 = (V[2, 0] * rq00 + V[2, 1] * rq10 + V[2, 2] * rq20) * s0
            c1 = (V[2, 0] * rq01 + V[2, 1] * rq11 + V[2, 2] * rq21) * s1
            c2 = (V[2, 0] * rq02 + V[2, 1] * rq12 + V[2, 2] * rq22) * s2
            tan_fovx = 0.5 * width / fx
            tan_fovy = 0.5 * height / fy
            ux = min((width - cx) / fx + 0.3 * tan_fovx, max(-(cx / fx + 0.3 * tan_fovx), px / pz))
            uy = min((height - cy) / fy + 0.3 * tan_fovy, max(-(cy / fy + 0.3 * tan_fovy), py / pz))
            ja = fx / pz
            jb = -fx * ux / pz
            jc = fy / pz
            jd = -fy * uy / pz
            t00 = ja * a0 + jb * c0
            t01 = ja * a1 + jb * c1
            t02 = ja * a2 + jb * c2
            t10 = jc * b0 + jd * c0
            t11 = jc * b1 + jd * c1
            t12 = jc * b2 + jd * c2
            c00 = t00 * t00 + t01 * t01 + t02 * t02
            c01 = t00 * t10 + t01 * t11 + t02 * t12
            c11 = t10 * t10 + t11 * t11 + t12 * t12
            det_orig = c00 * c11 - c01 * c01
            p00 = c00 + eps2d
            p11 = c11 + eps2d
            det = p00 * p11 - c01 * c01
            if det <= 0.0:
                continue
            comp = math.sqrt(max(0.0, det_orig / det))
            op = opacities[n] * comp if antialiased else opacities[n]
            if op < ALPHA_THRESHOLD:
                continue
            extend = min(MAX_EXTEND, math.sqrt(2.0 * math.log(op / ALPHA_THRESHOLD)))
            rx = math.ceil(extend * math.sqrt(p00))
            ry = math.ceil(extend * math.sqrt(p11))
            if rx <= radius_clip and ry <= radius_clip:
                continue
            mx = fx * px / pz + cx
            my = fy * py / pz + cy
            if mx + rx <= 0 or mx - rx >= width or my + ry <= 0 or my - ry >= height:
                continue
            radii[cam, n, 0] = rx
            radii[cam, n, 1] = ry
            means2d[cam, n, 0] = mx
            means2d[cam, n, 1] = my
            conics[cam, n, 0] = p11 / det
            conics[cam, n, 1] = -c01 / det
            conics[cam, n, 2] = p00 / det
            opac_out[cam, n] = op
            comps[cam, n] = comp


def _project_bwd(
    means, quats, scales, opacities, viewmats, Ks, width, height, eps2d, antialiased, radii,
    v_means2d, v_conics, v_opac_out, v_means, v_quats, v_scales, v_opacities,
):  # pragma: no cover
    """Gradients of :func:`_project_fwd` for the Gaussians with ``radii > 0``.

    Written with scalars only (no per-iteration lists): allocations inside the parallel loop
    cost more than the arithmetic.
    """
    n_cams = viewmats.shape[0]
    for n in prange(means.shape[0]):
        qw = quats[n, 0]
        qx = quats[n, 1]
        qy = quats[n, 2]
        qz = quats[n, 3]
        inv = 1.0 / math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
        w = qw * inv
        x = qx * inv
        y = qy * inv
        z = qz * inv
        r00 = 1 - 2 * (y * y + z * z)
        r01 = 2 * (x * y - w * z)
        r02 = 2 * (x * z + w * y)
        r10 = 2 * (x * y + w * z)
        r11 = 1 - 2 * (x * x + z * z)
        r12 = 2 * (y * z - w * x)
        r20 = 2 * (x * z - w * y)
        r21 = 2 * (y * z + w * x)
        r22 = 1 - 2 * (x * x + y * y)
        s0 = scales[n, 0]
        s1 = scales[n, 1]
        s2 = scales[n, 2]
        # M = Rq diag(s); gradients of M accumulate over cameras.
        m00 = r00 * s0
        m01 = r01 * s1
        m02 = r02 * s2
        m10 = r10 * s0
        m11 = r11 * s1
        m12 = r12 * s2
        m20 = r20 * s0
        m21 = r21 * s1
        m22 = r22 * s2
        gm00 = gm01 = gm02 = gm10 = gm11 = gm12 = gm20 = gm21 = gm22 = 0.0
        g_mx = g_my = g_mz = 0.0
        g_op = 0.0
        for cam in range(n_cams):
            if radii[cam, n, 0] <= 0 or radii[cam, n, 1] <= 0:
                continue
            V = viewmats[cam]
            v00 = V[0, 0]
            v01 = V[0, 1]
            v02 = V[0, 2]
            v10 = V[1, 0]
            v11 = V[1, 1]
            v12 = V[1, 2]
            v20 = V[2, 0]
            v21 = V[2, 1]
            v22 = V[2, 2]
            px = v00 * means[n, 0] + v01 * means[n, 1] + v02 * means[n, 2] + V[0, 3]
            py = v10 * means[n, 0] + v11 * means[n, 1] + v12 * means[n, 2] + V[1, 3]
            pz = v20 * means[n, 0] + v21 * means[n, 1] + v22 * means[n, 2] + V[2, 3]
            fx = Ks[cam, 0, 0]
            fy = Ks[cam, 1, 1]
            cx = Ks[cam, 0, 2]
            cy = Ks[cam, 1, 2]
            # RM = Vr M (rows a, b, c).
            a0 = v00 * m00 + v01 * m10 + v02 * m20
            a1 = v00 * m01 + v01 * m11 + v02 * m21
            a2 = v00 * m02 + v01 * m12 + v02 * m22
            b0 = v10 * m00 + v11 * m10 + v12 * m20
            b1 = v10 * m01 + v11 * m11 + v12 * m21
            b2 = v10 * m02 + v11 * m12 + v12 * m22
            c0 = v20 * m00 + v21 * m10 + v22 * m20
            c1 = v20 * m01 + v21 * m11 + v22 * m21
            c2 = v20 * m02 + v21 * m12 + v22 * m22
            tan_fovx = 0.5 * width / fx
            tan_fovy = 0.5 * height / fy
            ux_raw = px / pz
            uy_raw = py / pz
            lxp = (width - cx) / fx + 0.3 * tan_fovx
            lxn = -(cx / fx + 0.3 * tan_fovx)
            lyp = (height - cy) / fy + 0.3 * tan_fovy
            lyn = -(cy / fy + 0.3 * tan_fovy)
            ux = min(lxp, max(lxn, ux_raw))
            uy = min(lyp, max(lyn, uy_raw))
            ja = fx / pz
            jb = -fx * ux / pz
            jc = fy / pz
            jd = -fy * uy / pz
            t00 = ja * a0 + jb * c0
            t01 = ja * a1 + jb * c1
            t02 = ja * a2 + jb * c2
            t10 = jc * b0 + jd * c0
            t11 = jc * b1 + jd * c1
            t12 = jc * b2 + jd * c2
            c00 = t00 * t00 + t01 * t01 + t02 * t02
            c01 = t00 * t10 + t01 * t11 + t02 * t12
            c11 = t10 * t10 + t11 * t11 + t12 * t12
            det_orig = c00 * c11 - c01 * c01
            p00 = c00 + eps2d
            p11 = c11 + eps2d
            det = p00 * p11 - c01 * c01
            i00 = p11 / det
            i01 = -c01 / det
            i11 = p00 / det
            # conic = inv(P): dL/dP = -inv G inv with G the symmetric gradient of the inverse
            # (the off-diagonal gradient split over both entries).
            ga = v_conics[cam, n, 0]
            gb = 0.5 * v_conics[cam, n, 1]
            gc = v_conics[cam, n, 2]
            q00 = ga * i00 + gb * i01
            q01 = ga * i01 + gb * i11
            q10 = gb * i00 + gc * i01
            q11 = gb * i01 + gc * i11
            v_c00 = -(i00 * q00 + i01 * q10)
            v_c01 = -2.0 * (i00 * q01 + i01 * q11)
            v_c11 = -(i01 * q01 + i11 * q11)
            v_oo = v_opac_out[cam, n]
            if antialiased:
                ratio = det_orig / det
                comp = math.sqrt(max(0.0, ratio))
                g_op += v_oo * comp
                if ratio > 0.0:
                    v_ratio = v_oo * opacities[n] * 0.5 / comp
                    det2 = det * det
                    v_c00 += v_ratio * (c11 * det - det_orig * p11) / det2
                    v_c11 += v_ratio * (c00 * det - det_orig * p00) / det2
                    v_c01 += v_ratio * (-2.0 * c01 * (det - det_orig)) / det2
            else:
                g_op += v_oo
            gt00 = 2.0 * v_c00 * t00 + v_c01 * t10
            gt01 = 2.0 * v_c00 * t01 + v_c01 * t11
            gt02 = 2.0 * v_c00 * t02 + v_c01 * t12
            gt10 = 2.0 * v_c11 * t10 + v_c01 * t00
            gt11 = 2.0 * v_c11 * t11 + v_c01 * t01
            gt12 = 2.0 * v_c11 * t12 + v_c01 * t02
            ga0 = ja * gt00
            ga1 = ja * gt01
            ga2 = ja * gt02
            gb0 = jc * gt10
            gb1 = jc * gt11
            gb2 = jc * gt12
            gc0 = jb * gt00 + jd * gt10
            gc1 = jb * gt01 + jd * gt11
            gc2 = jb * gt02 + jd * gt12
            g_ja = gt00 * a0 + gt01 * a1 + gt02 * a2
            g_jb = gt00 * c0 + gt01 * c1 + gt02 * c2
            g_jc = gt10 * b0 + gt11 * b1 + gt12 * b2
            g_jd = gt10 * c0 + gt11 * c1 + gt12 * c2
            g_px = 0.0
            g_py = 0.0
            g_pz = -fx / (pz * pz) * g_ja - fy / (pz * pz) * g_jc
            # jb = -fx ux / z, jd = -fy uy / z; ux = x / z unless clamped.
            g_ux = -fx / pz * g_jb
            g_pz += fx * ux / (pz * pz) * g_jb
            g_uy = -fy / pz * g_jd
            g_pz += fy * uy / (pz * pz) * g_jd
            if lxn < ux_raw < lxp:
                g_px += g_ux / pz
                g_pz -= ux_raw / pz * g_ux
            if lyn < uy_raw < lyp:
                g_py += g_uy / pz
                g_pz -= uy_raw / pz * g_uy
            gu = v_means2d[cam, n, 0]
            gv = v_means2d[cam, n, 1]
            g_px += fx / pz * gu
            g_py += fy / pz * gv
            g_pz -= (fx * px * gu + fy * py * gv) / (pz * pz)
            g_mx += v00 * g_px + v10 * g_py + v20 * g_pz
            g_my += v01 * g_px + v11 * g_py + v21 * g_pz
            g_mz += v02 * g_px + v12 * g_py + v22 * g_pz
            # RM = Vr M: dL/dM = Vr^T dL/dRM.
            gm00 += v00 * ga0 + v10 * gb0 + v20 * gc0
            gm01 += v00 * ga1 + v10 * gb1 + v20 * gc1
            gm02 += v00 * ga2 + v10 * gb2 + v20 * gc2
            gm10 += v01 * ga0 + v11 * gb0 + v21 * gc0
            gm11 += v01 * ga1 + v11 * gb1 + v21 * gc1
            gm12 += v01 * ga2 + v11 * gb2 + v21 * gc2
            gm20 += v02 * ga0 + v12 * gb0 + v22 * gc0
            gm21 += v02 * ga1 + v12 * gb1 + v22 * gc1
            gm22 += v02 * ga2 + v12 * gb2 + v22 * gc2
        # M[i, j] = Rq[i, j] s[j].
        v_scales[n, 0] = gm00 * r00 + gm10 * r10 + gm20 * r20
        v_scales[n, 1] = gm01 * r01 + gm11 * r11 + gm21 * r21
        v_scales[n, 2] = gm02 * r02 + gm12 * r12 + gm22 * r22
        G00 = gm00 * s0
        G01 = gm01 * s1
        G02 = gm02 * s2
        G10 = gm10 * s0
        G11 = gm11 * s1
        G12 = gm12 * s2
        G20 = gm20 * s0
        G21 = gm21 * s1
        G22 = gm22 * s2
        gw = 2 * (-z * G01 + y * G02 + z * G10 - x * G12 - y * G20 + x * G21)
        gx = 2 * (y * G01 + z * G02 + y * G10 - 2 * x * G11 - w * G12 + z * G20 + w * G21
                  - 2 * x * G22)
        gy = 2 * (-2 * y * G00 + x * G01 + w * G02 + x * G10 + z * G12 - w * G20 + z * G21
                  - 2 * y * G22)
        gz = 2 * (-2 * z * G00 - w * G01 + x * G02 + w * G10 - 2 * z * G11 + y * G12 + x * G20
                  + y * G21)
        # q = quat / |quat|: project out the radial component.
        dot = w * gw + x * gx + y * gy + z * gz
        v_quats[n, 0] = (gw - w * dot) * inv
        v_quats[n, 1] = (gx - x * dot) * inv
        v_quats[n, 2] = (gy - y * dot) * inv
        v_quats[n, 3] = (gz - z * dot) * inv
        v_means[n, 0] = g_mx
        v_means[n, 1] = g_my
        v_means[n, 2] = g_mz
        v_opacities[n] = g_op


# Gaussians per parallel iteration of the SH kernels (one scratch allocation per block).
SH_BLOCK = 512


def _sh_fwd(degree, means, coeffs, campos, radii, colors):  # pragma: no cover
    """``colors [C, N, 3] = max(SH(dir) + 0.5, 0)``; zero where ``radii`` is 0 (as gsplat)."""
    n_cams = campos.shape[0]
    # Scratch per block of Gaussians: a list literal per Gaussian was a heap allocation (5 per
    # Gaussian in the backward). 100K Gaussians, SH 3, one thread: backward 54.7 -> 15.9 ms,
    # forward 13.5 -> 7.2 ms, results bit for bit the same.
    n_blocks = (means.shape[0] + SH_BLOCK - 1) // SH_BLOCK
    for blk in prange(n_blocks):
        b = np.zeros(16)
        for n in range(blk * SH_BLOCK, min(means.shape[0], (blk + 1) * SH_BLOCK)):
            for cam in range(n_cams):
                for ch in range(3):
                    colors[cam, n, ch] = 0.0
                if radii[cam, n, 0] <= 0 or radii[cam, n, 1] <= 0:
                    continue
                dx = means[n, 0] - campos[cam, 0]
                dy = means[n, 1] - campos[cam, 1]
                dz = means[n, 2] - campos[cam, 2]
                inv = 1.0 / math.sqrt(dx * dx + dy * dy + dz * dz)
                x = dx * inv
                y = dy * inv
                z = dz * inv
                b[:] = 0.0
                b[0] = 0.2820947917738781
                if degree >= 1:
                    b[1] = -0.48860251190292 * y
                    b[2] = 0.48860251190292 * z
                    b[3] = -0.48860251190292 * x
                if degree >= 2:
                    z2 = z * z
                    fb = -1.092548430592079 * z
                    fa = 0.5462742152960395
                    b[4] = fa * 2 * x * y
                    b[5] = fb * y
                    b[6] = 0.9461746957575601 * z2 - 0.3153915652525201
                    b[7] = fb * x
                    b[8] = fa * (x * x - y * y)
                if degree >= 3:
                    z2 = z * z
                    fc = -2.285228997322329 * z2 + 0.4570457994644658
                    fb3 = 1.445305721320277 * z
                    fa3 = -0.5900435899266435
                    c1 = x * x - y * y
                    s1 = 2 * x * y
                    b[9] = fa3 * (x * s1 + y * c1)
                    b[10] = fb3 * s1
                    b[11] = fc * y
                    b[12] = z * (1.865881662950577 * z2 - 1.119528997770346)
                    b[13] = fc * x
                    b[14] = fb3 * c1
                    b[15] = fa3 * (x * c1 - y * s1)
                nb = (degree + 1) * (degree + 1)
                for ch in range(3):
                    acc = 0.0
                    for k in range(nb):
                        acc += b[k] * coeffs[n, k, ch]
                    colors[cam, n, ch] = max(acc + 0.5, 0.0)


def _sh_bwd(degree, means, coeffs, campos, radii, colors, v_colors, v_coeffs, v_means):  # pragma: no cover
    """Gradients of :func:`_sh_fwd` w.r.t. the coefficients and (through the view direction)
    the means. The clamp passes gradient only where the colour is positive."""
    n_cams = campos.shape[0]
    nb = (degree + 1) * (degree + 1)
    # Scratch per block of Gaussians: a list literal per Gaussian was a heap allocation (5 per
    # Gaussian in the backward). 100K Gaussians, SH 3, one thread: backward 54.7 -> 15.9 ms,
    # forward 13.5 -> 7.2 ms, results bit for bit the same.
    n_blocks = (means.shape[0] + SH_BLOCK - 1) // SH_BLOCK
    for blk in prange(n_blocks):
        b = np.zeros(16)
        bx = np.zeros(16)
        by = np.zeros(16)
        bz = np.zeros(16)
        g = np.zeros(3)
        for n in range(blk * SH_BLOCK, min(means.shape[0], (blk + 1) * SH_BLOCK)):
            # The first camera with a gradient assigns, later ones add: no zeroing pass over
            # the [N, K, 3] gradient before the sums (100K Gaussians, SH 3: 19 MB).
            first = True
            for cam in range(n_cams):
                if radii[cam, n, 0] <= 0 or radii[cam, n, 1] <= 0:
                    continue
                g[:] = 0.0
                any_grad = False
                for ch in range(3):
                    if colors[cam, n, ch] > 0.0:
                        g[ch] = v_colors[cam, n, ch]
                        any_grad = True
                if not any_grad:
                    continue
                dx = means[n, 0] - campos[cam, 0]
                dy = means[n, 1] - campos[cam, 1]
                dz = means[n, 2] - campos[cam, 2]
                inv = 1.0 / math.sqrt(dx * dx + dy * dy + dz * dz)
                x = dx * inv
                y = dy * inv
                z = dz * inv
                b[:] = 0.0
                bx[:] = 0.0  # d basis / dx (x, y, z treated as independent)
                by[:] = 0.0
                bz[:] = 0.0
                b[0] = 0.2820947917738781
                if degree >= 1:
                    k1 = 0.48860251190292
                    b[1] = -k1 * y
                    b[2] = k1 * z
                    b[3] = -k1 * x
                    by[1] = -k1
                    bz[2] = k1
                    bx[3] = -k1
                if degree >= 2:
                    k2 = 1.092548430592079
                    fa = 0.5462742152960395
                    b[4] = fa * 2 * x * y
                    bx[4] = 2 * fa * y
                    by[4] = 2 * fa * x
                    b[5] = -k2 * z * y
                    by[5] = -k2 * z
                    bz[5] = -k2 * y
                    b[6] = 0.9461746957575601 * z * z - 0.3153915652525201
                    bz[6] = 2 * 0.9461746957575601 * z
                    b[7] = -k2 * z * x
                    bx[7] = -k2 * z
                    bz[7] = -k2 * x
                    b[8] = fa * (x * x - y * y)
                    bx[8] = 2 * fa * x
                    by[8] = -2 * fa * y
                if degree >= 3:
                    z2 = z * z
                    kc = 2.285228997322329
                    fc = -kc * z2 + 0.4570457994644658
                    k3 = 1.445305721320277
                    fa3 = -0.5900435899266435
                    c1 = x * x - y * y
                    s1 = 2 * x * y
                    b[9] = fa3 * (3 * x * x * y - y * y * y)
                    bx[9] = fa3 * 6 * x * y
                    by[9] = fa3 * (3 * x * x - 3 * y * y)
                    b[10] = k3 * z * s1
                    bx[10] = k3 * z * 2 * y
                    by[10] = k3 * z * 2 * x
                    bz[10] = k3 * s1
                    b[11] = fc * y
                    by[11] = fc
                    bz[11] = -2 * kc * z * y
                    b[12] = z * (1.865881662950577 * z2 - 1.119528997770346)
                    bz[12] = 3 * 1.865881662950577 * z2 - 1.119528997770346
                    b[13] = fc * x
                    bx[13] = fc
                    bz[13] = -2 * kc * z * x
                    b[14] = k3 * z * c1
                    bx[14] = k3 * z * 2 * x
                    by[14] = -k3 * z * 2 * y
                    bz[14] = k3 * c1
                    b[15] = fa3 * (x * x * x - 3 * x * y * y)
                    bx[15] = fa3 * (3 * x * x - 3 * y * y)
                    by[15] = -fa3 * 6 * x * y
                gx = 0.0
                gy = 0.0
                gz = 0.0
                for k in range(nb):
                    gb = g[0] * coeffs[n, k, 0] + g[1] * coeffs[n, k, 1] + g[2] * coeffs[n, k, 2]
                    for ch in range(3):
                        if first:
                            v_coeffs[n, k, ch] = b[k] * g[ch]
                        else:
                            v_coeffs[n, k, ch] += b[k] * g[ch]
                    gx += gb * bx[k]
                    gy += gb * by[k]
                    gz += gb * bz[k]
                # d = dir / |dir|: project out the radial component.
                dot = x * gx + y * gy + z * gz
                if first:
                    v_means[n, 0] = (gx - x * dot) * inv
                    v_means[n, 1] = (gy - y * dot) * inv
                    v_means[n, 2] = (gz - z * dot) * inv
                else:
                    v_means[n, 0] += (gx - x * dot) * inv
                    v_means[n, 1] += (gy - y * dot) * inv
                    v_means[n, 2] += (gz - z * dot) * inv
                first = False
            # Coefficients past the degree get no gradient; nor does anything of a Gaussian
            # that no camera saw.
            for k in range(nb if not first else 0, v_coeffs.shape[1]):
                for ch in range(3):
                    v_coeffs[n, k, ch] = 0.0
            if first:
                for k in range(3):
                    v_means[n, k] = 0.0


@functools.lru_cache(maxsize=1)
def compiled_gaussian_kernels() -> SimpleNamespace:
    """Compile (or load from numba's on-disk cache) the per-Gaussian kernels."""
    import numba

    globals()["prange"] = numba.prange
    parallel = functools.partial(numba.njit, parallel=True, cache=True, nogil=True)
    return SimpleNamespace(
        project_fwd=parallel()(_project_fwd),
        project_bwd=parallel()(_project_bwd),
        sh_fwd=parallel()(_sh_fwd),
        sh_bwd=parallel()(_sh_bwd),
    )
