"""Compare benchmark results: a markdown table, dollars per job, and SVG plots, written to a folder.

Usage::

    python benchmarks/compare.py A.json B.json ... --out docs/bench-compare
    python benchmarks/compare.py benchmarks/results/train-gsplat-fern-7k--h100.json --project --out OUT

Reads ``splatkit bench`` records and ``benchmarks/train.py --json`` results
(:mod:`splatkit.bench.summary`). Writes ``OUT/comparison.md`` (also printed): one row per run
(device, stage times, steps/s, peak memory, held-out PSNR/SSIM, ``.sog`` size), the cost per job
on each training instance (:mod:`splatkit.bench.costs`: on-demand and spot), and two plots:
``OUT/stage-times.svg`` (time per stage per run, bars) and ``OUT/psnr-vs-time.svg`` (held-out
PSNR against training time, for runs whose file has the curve). ``--project`` adds a T4 and an
A10G row projected from the first GPU run unless a run on that GPU is given; projected rows say
``projected`` in the table, the cost lines and the plots' legends.
"""

from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path

from splatkit.bench.costs import (
    ASSUMED_SPOT_SAVINGS,
    BANDWIDTH_WEIGHT,
    COMPRESS_INSTANCE,
    PRICE_DATE,
    PRICES,
    SFM_INSTANCE,
    TRAINING_INSTANCES,
    job_cost,
    training_summaries_for,
)
from splatkit.bench.summary import RunSummary, load_summary
from splatkit.errors import SplatkitError
from splatkit.io.atomic import atomic_write_text

STAGES = ("sfm", "train", "compress")
#: Colour per series (colour-blind safe, Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:,.0f} MiB"


def _name(s: RunSummary) -> str:
    return f"{s.label} (projected)" if s.projected and "projected" not in s.label else s.label


def runs_table(summaries: list[RunSummary]) -> str:
    """One markdown row per run."""
    head = ("| run | device | scene | preset | SfM s | training s | compression s | steps | steps/s | "
            "peak GPU | peak host RSS | Gaussians | held-out PSNR | SSIM | .sog | .sog render PSNR |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for s in summaries:
        sec = s.stage_seconds
        rows.append(
            f"| {_name(s)} | {s.device} | {s.scene} | {s.preset} | {_fmt(sec.get('sfm'), ',.1f')} | "
            f"{_fmt(sec.get('train'), ',.1f')} | {_fmt(sec.get('compress'), ',.1f')} | {_fmt(s.steps, ',d')} | "
            f"{_fmt(s.steps_per_second, '.2f')} | {_mib(s.peak_gpu_bytes)} | {_mib(s.peak_host_rss_bytes)} | "
            f"{_fmt(s.num_gaussians, ',d')} | {_fmt(s.psnr, '.2f', ' dB')} | {_fmt(s.ssim, '.3f')} | "
            f"{'-' if s.sog_bytes is None else f'{s.sog_bytes / 1e6:.2f} MB'} | {_fmt(s.sog_render_psnr, '.1f', ' dB')} |")
    return "\n".join(rows)


def cost_table(summaries: list[RunSummary], *, sfm_seconds: float | None, compress_seconds: float | None,
               spot_savings: float, bandwidth_weight: float) -> tuple[str, list[RunSummary]]:
    """Cost per job on each training instance; returns the table and the projected summaries it made."""
    rows = ["| training instance | training run | training s | SfM $ | training $ on-demand | training $ spot | "
            "compression $ | job $ on-demand | job $ spot |", "|---|---|---|---|---|---|---|---|---|"]
    made: list[RunSummary] = []
    for instance in TRAINING_INSTANCES:
        try:
            trains = training_summaries_for(instance, summaries, bandwidth_weight=bandwidth_weight)
        except SplatkitError as e:
            rows.append(f"| {instance} | ({e}) | - | - | - | - | - | - | - |")
            continue
        for train in trains:
            if train.projected:
                made.append(train)
            cost = job_cost(train, instance, sfm_seconds=sfm_seconds, compress_seconds=compress_seconds,
                            spot_savings=spot_savings)
            tag = " **projected**" if cost.projected else " measured"
            rows.append(f"| {instance} ({PRICES[instance].gpu}) | {_name(train)}, {train.scene}, {train.preset}{tag} | "
                        f"{_fmt(train.stage_seconds.get('train'), ',.0f')} | {_fmt(cost.sfm_usd, '.3f')} | "
                        f"{_fmt(cost.train_on_demand_usd, '.3f')} | {_fmt(cost.train_spot_usd, '.3f')} | "
                        f"{_fmt(cost.compress_usd, '.3f')} | {_fmt(cost.total_on_demand_usd, '.3f')} | "
                        f"{_fmt(cost.total_spot_usd, '.3f')} |")
    return "\n".join(rows), made


# -----------------------------------------------------------------------------------------------
# SVG (hand-written: no plotting dependency)

_W, _H, _L, _R, _T, _B = 900, 380, 70, 340, 30, 50


def _svg(body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" '
            f'font-family="sans-serif" font-size="12">\n<title>{html.escape(title)}</title>\n'
            f'<rect width="{_W}" height="{_H}" fill="white"/>\n'
            f'<text x="{_W / 2}" y="18" text-anchor="middle" font-size="14">{html.escape(title)}</text>\n'
            + "\n".join(body) + "\n</svg>\n")


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10 ** len(str(int(value))) / 10 if value >= 1 else 0.1
    for m in (1, 2, 2.5, 5, 10):
        if m * step >= value:
            return m * step
    return 10 * step


def _y_axis(y_max: float, unit: str, y_min: float = 0.0) -> list[str]:
    out = [f'<line x1="{_L}" y1="{_T}" x2="{_L}" y2="{_H - _B}" stroke="black"/>',
           f'<line x1="{_L}" y1="{_H - _B}" x2="{_W - _R}" y2="{_H - _B}" stroke="black"/>',
           f'<text x="14" y="{(_H - _B + _T) / 2}" transform="rotate(-90 14 {(_H - _B + _T) / 2})" '
           f'text-anchor="middle">{html.escape(unit)}</text>']
    for i in range(6):
        v = y_min + (y_max - y_min) * i / 5
        y = _H - _B - (_H - _B - _T) * i / 5
        out.append(f'<line x1="{_L - 4}" y1="{y:.1f}" x2="{_W - _R}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{_L - 6}" y="{y + 4:.1f}" text-anchor="end">{v:,.4g}</text>')
    return out


def _legend(names: list[str]) -> list[str]:
    out = []
    for i, name in enumerate(names):
        y = _T + 16 * i
        out.append(f'<rect x="{_W - _R + 10}" y="{y}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
                   f'<text x="{_W - _R + 25}" y="{y + 9}">{html.escape(name[:60])}</text>')
    return out


def stage_times_svg(summaries: list[RunSummary]) -> str:
    """Grouped bars: one group per stage, one bar per run (a stage a run did not time has no bar)."""
    values = [v for s in summaries for v in s.stage_seconds.values() if v is not None]
    y_max = _nice_max(max(values, default=1.0))
    plot_w, plot_h = _W - _L - _R, _H - _T - _B
    group_w = plot_w / len(STAGES)
    bar_w = group_w * 0.8 / max(1, len(summaries))
    body = _y_axis(y_max, "wall time (s)")
    for g, stage in enumerate(STAGES):
        x0 = _L + g * group_w + group_w * 0.1
        body.append(f'<text x="{_L + (g + 0.5) * group_w:.1f}" y="{_H - _B + 18}" text-anchor="middle">{stage}</text>')
        for i, s in enumerate(summaries):
            v = s.stage_seconds.get(stage)
            if v is None:
                continue
            h = plot_h * v / y_max
            faded = ' fill-opacity="0.5"' if s.projected else ""
            body.append(f'<rect x="{x0 + i * bar_w:.1f}" y="{_H - _B - h:.1f}" width="{bar_w * 0.9:.1f}" '
                        f'height="{h:.1f}" fill="{PALETTE[i % len(PALETTE)]}"'
                        f'{faded}><title>{html.escape(_name(s))}: '
                        f'{v:,.1f} s</title></rect>')
    return _svg(body + _legend([_name(s) for s in summaries]), "time per stage")


def psnr_curve_svg(summaries: list[RunSummary]) -> str | None:
    """Held-out PSNR against training time, one line per run with a curve; None when no run has one."""
    with_curve = [s for s in summaries if s.curve]
    if not with_curve:
        return None
    x_max = _nice_max(max(p.seconds for s in with_curve for p in s.curve))
    psnrs = [p.psnr for s in with_curve for p in s.curve]
    y_min, y_max = float(int(min(psnrs)) // 5 * 5), float((int(max(psnrs)) // 5 + 1) * 5)
    plot_w, plot_h = _W - _L - _R, _H - _T - _B
    body = _y_axis(y_max, "held-out PSNR (dB)", y_min)
    for i in range(6):
        x = _L + plot_w * i / 5
        body.append(f'<text x="{x:.1f}" y="{_H - _B + 16}" text-anchor="middle">{x_max * i / 5:,.4g}</text>')
    body.append(f'<text x="{_L + plot_w / 2}" y="{_H - 12}" text-anchor="middle">training time (s)</text>')
    for i, s in enumerate(summaries):
        if not s.curve:
            continue
        pts = " ".join(f"{_L + plot_w * p.seconds / x_max:.1f},{_H - _B - plot_h * (p.psnr - y_min) / (y_max - y_min):.1f}"
                       for p in s.curve)
        dash = ' stroke-dasharray="6 4"' if s.projected else ""
        body.append(f'<polyline points="{pts}" fill="none" stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="2"{dash}/>')
    # Estimated times (step / steps/s, no time per point in the file) are marked in the legend.
    legend = _legend([_name(s) + (" (time est.)" if s.curve_seconds_estimated else "") for s in summaries])
    return _svg(body + legend, "held-out PSNR vs training time")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", metavar="JSON", help="splatkit bench records or benchmarks/train.py results")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for comparison.md and the SVG plots")
    parser.add_argument("--project", action="store_true",
                        help="add T4 and A10G rows projected from the first GPU run (when none was measured there)")
    parser.add_argument("--sfm-seconds", type=float, default=None,
                        help=f"SfM time to price on {SFM_INSTANCE} when the training run did not time SfM")
    parser.add_argument("--compress-seconds", type=float, default=None,
                        help=f"compression time to price on {COMPRESS_INSTANCE} when the run did not time it")
    parser.add_argument("--spot-savings", type=float, default=ASSUMED_SPOT_SAVINGS,
                        help=f"fraction of the on-demand price spot saves (assumed: {ASSUMED_SPOT_SAVINGS})")
    parser.add_argument("--bandwidth-weight", type=float, default=BANDWIDTH_WEIGHT,
                        help=f"share of a step that scales with memory bandwidth (default {BANDWIDTH_WEIGHT})")
    args = parser.parse_args(argv)
    try:
        summaries = [load_summary(f) for f in args.files]
        costs, projected = cost_table(summaries, sfm_seconds=args.sfm_seconds, compress_seconds=args.compress_seconds,
                                      spot_savings=args.spot_savings, bandwidth_weight=args.bandwidth_weight)
    except SplatkitError as e:
        print(f"compare: error: {e}", file=sys.stderr)
        return 2
    shown = summaries + (projected if args.project else [])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "stage-times.svg", stage_times_svg(shown))
    curve = psnr_curve_svg(shown)
    if curve is not None:
        atomic_write_text(out / "psnr-vs-time.svg", curve)
    text = "\n\n".join([
        "## Runs\n\n" + runs_table(shown),
        f"## Cost per job (SageMaker on-demand prices of {PRICE_DATE}, us-east-1; spot saving assumed "
        f"{args.spot_savings:.0%}; SfM on {SFM_INSTANCE}, compression on {COMPRESS_INSTANCE})\n\n" + costs,
        "Plots: `stage-times.svg`" + (", `psnr-vs-time.svg`" if curve is not None else "") + ".",
    ]) + "\n"
    atomic_write_text(out / "comparison.md", text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
