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

__all__ = ["DemoConfig", "generate_demo_photos", "demo_ground_truth", "demo_shots", "PHOTOS_DIR",
           "GROUND_TRUTH_FILE"]
