"""Training: optimiser, schedule, EMA, checkpoints, one step, the loop, and a run end to end.

``run_training(config) -> run_dir`` (bench.train.run) is the library entry point.
"""
