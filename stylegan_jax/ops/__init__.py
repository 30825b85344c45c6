"""Numerics with no Flax state: FIR resampling, equalised layers, modulated convolution."""
