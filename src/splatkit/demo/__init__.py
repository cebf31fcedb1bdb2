"""A small synthetic drone flight, made here, so ``splatkit demo OUT`` needs no download.

A textured scene (gentle hills, buildings, trees, painted fields, roads and ground-control
markers) is ray-cast in numpy from an orbit of oblique views and a nadir lawnmower grid, and
written as JPEGs with the EXIF a drone writes (GPS, focal length, capture time). The photos are
ground truth for held-out views because they are rendered; the poses used are saved beside them.

>>> from splatkit.demo import generate_demo_photos, demo_ground_truth
>>> photos = generate_demo_photos("out")          # out/photos/DJI_0001.JPG ...  # doctest: +SKIP
>>> demo_ground_truth("out")["camera"]["params"]   # [fx, fy, cx, cy]            # doctest: +SKIP

Only numpy and Pillow are used (both core dependencies); importing this package renders nothing.
"""

from splatkit.demo.generate import (
    GROUND_TRUTH_FILE,
    PHOTOS_DIR,
    DemoConfig,
    demo_ground_truth,
    demo_shots,
    generate_demo_photos,
)

#: Stage options ``splatkit demo`` runs with unless the user overrides them: a short CPU training
#: sized for the 32 small demo photos, so the whole demo takes minutes on a 2-core machine.
DEMO_STAGE_OPTIONS: dict[str, dict[str, object]] = {
    "train": {"steps": 800, "sh_degree": 1, "sh_degree_interval": 200, "refine_start": 100,
              "refine_every": 100, "refine_stop": 600, "checkpoint_every": 200},
}

__all__ = ["DEMO_STAGE_OPTIONS", "DemoConfig", "generate_demo_photos", "demo_ground_truth", "demo_shots", "PHOTOS_DIR",
           "GROUND_TRUTH_FILE"]
