"""dens-bench: a benchmark and reproduction harness for DeNS (Liao, Smidt, Das 2024)."""

__version__ = "0.1.0"
