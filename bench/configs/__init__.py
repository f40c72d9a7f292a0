"""YAML configuration shipped as package data (read by bench.config): dataset presets,
training-scale presets and hyper-parameter profiles."""
