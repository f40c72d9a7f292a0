"""Importers of released checkpoints into dens-bench run directories (`bench import`)."""
