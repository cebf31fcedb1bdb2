"""Training stage backends: Reconstruction + images -> GaussianCloud."""
