"""Numerics with no Flax state: FIR resampling, layers, modulated convolution."""
