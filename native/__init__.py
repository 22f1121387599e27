"""Numba kernels: arrays in, arrays out. Imports nothing from ``codecstyle``."""
