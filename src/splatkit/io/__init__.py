"""File formats: images and ZIPs with EXIF, 3DGS PLY, COLMAP models (and, with their stages,
OpenSfM folders and SOG bundles). Readers validate what they return; writers are atomic."""
