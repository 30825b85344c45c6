"""Interop with files written by other StyleGAN implementations."""
