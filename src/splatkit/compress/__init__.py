"""Compression stage backends: GaussianCloud -> CompressedBundle."""
