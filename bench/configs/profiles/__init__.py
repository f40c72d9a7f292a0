"""Hyper-parameter profiles, one YAML file each (``paper-v1``, ``released``)."""
