"""Host views are uint8 and one view per step goes to the device: memory does not grow 4x with photos.

Each measurement runs a few training steps in a fresh subprocess and reads its peak resident set
(``getrusage`` ``ru_maxrss``): tracemalloc does not see torch's allocations, and a fresh process
keeps the other tests' memory out of the figure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.train.survey_photos import write_survey

WIDTH, HEIGHT = 320, 240
#: Growth allowed beyond the photos' uint8 bytes: per-frame metadata, allocator and decoder
#: noise. Float32 host images would add 3 x 270 x 230 KB = 187 MB on top, far beyond it.
SLACK_BYTES = 32 * 2**20

_CHILD = """
import json, resource, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.train.survey_photos import write_survey
from splatkit.contracts import PosedImages
from splatkit.train.trainer import train_gaussians
from splatkit.train.config import TrainConfig
posed = PosedImages.__new__(PosedImages)
import pickle
posed = pickle.loads(Path({posed!r}).read_bytes())
config = TrainConfig(steps=3, max_image_size=0, max_gaussians=2000, checkpoint_every=0,
                     save_eval_images=False, test_every=8, min_points=10)
out = train_gaussians(posed, config, Path({work!r}), backend="cpu", device="cpu", stage="train/cpu")
print(json.dumps({{"peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "steps": out.report.steps, "train_views": out.report.train_views}}))
"""


def _peak_rss_training(tmp_path: Path, n_photos: int) -> dict:
    import pickle

    posed = write_survey(tmp_path / f"photos{n_photos}", n_photos=n_photos, width=WIDTH, height=HEIGHT)
    pickled = tmp_path / f"posed{n_photos}.pkl"
    pickled.write_bytes(pickle.dumps(posed))
    code = _CHILD.format(root=str(Path(__file__).resolve().parents[2]), posed=str(pickled),
                         work=str(tmp_path / f"work{n_photos}"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_host_views_are_uint8_and_device_views_float(tmp_path) -> None:
    import torch

    from splatkit.train.data import host_image_bytes, load_training_scene

    posed = write_survey(tmp_path / "photos", n_photos=9, width=40, height=30)
    scene = load_training_scene(posed, downscale=1, test_every=4, device="cpu")
    assert all(v.image.dtype == torch.uint8 and v.image.shape == (30, 40, 3) for v in scene.views)
    assert host_image_bytes(scene.views) == 9 * 40 * 30 * 3
    view = scene.device_view(2)
    assert view.image.dtype == torch.float32 and view.image.device.type == "cpu"
    # Bitwise what loading as float32 gave before (resumed runs stay bitwise equal).
    expected = torch.from_numpy(scene.views[2].image.numpy().astype(np.float32) / 255.0)
    assert torch.equal(view.image, expected)
    assert view.to_device("cpu").image is view.image  # a device view stays as it is
    assert (view.width, view.height) == (40, 30)


@pytest.mark.cuda
def test_device_view_lands_on_cuda_from_pinned_host_memory(tmp_path) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from splatkit.train.data import load_training_scene

    posed = write_survey(tmp_path / "photos", n_photos=4, width=40, height=30)
    scene = load_training_scene(posed, downscale=1, test_every=0, device="cuda")
    assert scene.views[0].image.is_pinned() and scene.views[0].image.device.type == "cpu"
    view = scene.device_view(1)
    assert view.image.is_cuda and view.image.dtype == torch.float32 and view.K.is_cuda
    assert torch.equal(view.image.cpu(), scene.views[1].image.float() / 255.0)


def test_training_memory_grows_by_the_photos_uint8_size_not_4x(tmp_path) -> None:
    small = _peak_rss_training(tmp_path, 30)
    large = _peak_rss_training(tmp_path, 300)
    assert small["steps"] == large["steps"] == 3 and large["train_views"] > small["train_views"]
    uint8_growth = (300 - 30) * WIDTH * HEIGHT * 3
    growth = large["peak_rss"] - small["peak_rss"]
    print(f"peak RSS 30 photos {small['peak_rss'] / 2**20:.1f} MiB, 300 photos {large['peak_rss'] / 2**20:.1f} "
          f"MiB: growth {growth / 2**20:.1f} MiB, uint8 photos {uint8_growth / 2**20:.1f} MiB")
    assert growth <= uint8_growth + SLACK_BYTES
