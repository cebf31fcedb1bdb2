"""``splatkit view OUT`` on a demo run, in headless Chromium: the report and the embedded viewer.

The demo runs once per session with a short training (the pipeline itself is tested elsewhere);
it takes a few minutes on a 2-core machine, hence ``slow``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.view.chromium import Chromium
from tests.view.conftest import running
from tests.view.scenes import HEIGHT, WIDTH, cpu_render, psnr_over_covered
from tests.view.test_browser import PSNR_FLOOR_DB, assert_only_local_requests, record, viewer_shot

pytest.importorskip("pycolmap")
pytest.importorskip("torch")
pytest.importorskip("numba")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Demo options: the full SfM, a short training, SH degree 1 (so the palette is exercised).
DEMO_FLAGS = ("--train-steps", "60", "--train-sh-degree", "1", "--train-test-every", "8")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("view-demo") / "demo"
    proc = subprocess.run([sys.executable, "-m", "splatkit", "-q", "demo", str(out), *DEMO_FLAGS],
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_the_report_leads_with_the_summary_and_maps_every_registered_camera(chromium: str, demo_run: Path) -> None:
    report = json.loads((demo_run / "report.json").read_text())
    registered = report["sfm"]["quality"]["images_registered"]
    assert registered >= 3
    with running(demo_run) as server, Chromium(chromium, width=1100, height=1600) as browser:
        browser.goto(server.url)
        facts = browser.evaluate("""(() => {
            const map = document.querySelector('svg.camera-map');
            const box = map.getBoundingClientRect();
            return {
              headings: [...document.querySelectorAll('h2')].map(h => h.id || h.textContent),
              cards: [...document.querySelectorAll('#summary .card')].map(c => c.textContent),
              cameras: map.querySelectorAll('circle.camera').length,
              gps: map.querySelectorAll('circle.gps-fix').length,
              scale: map.querySelector('g.scale-bar text').textContent,
              points: !!map.querySelector('path.sparse-points'),
              folded: document.querySelector('#per-image').open === false,
              frame: !!document.querySelector('iframe#splatkit-viewer'),
              mapBox: [box.x, box.y, box.width, box.height],
            };
        })()""")
        assert facts["headings"][:3] == ["Summary", "stages", "sfm"]  # the summary leads
        assert any(f"{registered} of {report['sfm']['quality']['images_given']} registered" in c
                   for c in facts["cards"])
        assert any("scene.sog" in c for c in facts["cards"]) and any("PSNR" in c for c in facts["cards"])
        assert facts["cameras"] == registered          # one marker per registered camera
        assert facts["gps"] == registered              # the demo photos all carry GPS
        assert facts["scale"].endswith(" m") and facts["points"] and facts["folded"] and facts["frame"]
        # The embedded viewer loads the run's final file.
        browser.wait_for("(() => { const v = document.querySelector('iframe#splatkit-viewer').contentWindow"
                         ".splatkitViewer; return v && (v.ready || v.error); })()")
        viewer = browser.evaluate("document.querySelector('iframe#splatkit-viewer').contentWindow.splatkitViewer")
        assert viewer["error"] is None and viewer["count"] == report["training"]["num_gaussians"]
        # The map is drawn, not blank: scroll it into view and look at its pixels.
        browser.evaluate("document.querySelector('svg.camera-map').scrollIntoView()")
        x, y, w, h = (int(v) for v in browser.evaluate(
            "(() => { const b = document.querySelector('svg.camera-map').getBoundingClientRect();"
            " return [b.x, b.y, b.width, b.height]; })()"))
        shot = browser.screenshot()[max(y, 0):y + h, max(x, 0):x + w]
        blue = (shot[..., 2] > 120) & (shot[..., 0] < 90)          # the camera markers' colour
        assert shot.size and shot.std() > 10 and blue.sum() > 20 * registered
        summary = browser.screenshot()
        assert summary.std() > 10
        assert_only_local_requests(browser, server)


def test_the_run_folder_viewer_matches_the_cpu_render_from_a_registered_camera(chromium: str,
                                                                               demo_run: Path) -> None:
    from splatkit.io.colmap import read_colmap_model
    from splatkit.io.sog import decode_sog, read_sog

    report = json.loads((demo_run / "report.json").read_text())
    decoded = decode_sog(read_sog(Path(report["final_file"])))
    rec = read_colmap_model(demo_run / "sfm" / "sparse" / "0")
    camera = rec.cameras[int(rec.frames.camera_index[0])]
    assert (camera.width, camera.height) == (WIDTH, HEIGHT)   # the demo's photos are 320 x 240
    viewmat = np.eye(4)
    viewmat[:3, :3] = rec.frames.rotation[0]
    viewmat[:3, 3] = rec.frames.translation[0]
    fx, fy, cx, cy = camera.params[:4]
    K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]])
    reference, alpha = cpu_render(decoded, viewmat, K)
    with running(demo_run) as server, Chromium(chromium, width=WIDTH, height=HEIGHT) as browser:
        psnr = psnr_over_covered(viewer_shot(browser, server, viewmat, K, page="viewer/"), reference, alpha)
        record("run folder (demo)", psnr)
        assert psnr >= PSNR_FLOOR_DB
        # A short training leaves the splats nearly round and the SH small, so a swapped quaternion
        # order or an ignored palette changes little here: break the colour channel order instead.
        worse = psnr_over_covered(viewer_shot(browser, server, viewmat, K, page="viewer/", broken="rgb-order"),
                                  reference, alpha)
        record("run folder (demo), break=rgb-order", worse)
        assert worse < PSNR_FLOOR_DB
        assert_only_local_requests(browser, server)
