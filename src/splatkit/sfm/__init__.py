"""SfM stage backends: photos or an OpenSfM folder -> Reconstruction."""
