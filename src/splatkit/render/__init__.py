"""Rasterizers shared by training, compression reports and the pipeline report."""
