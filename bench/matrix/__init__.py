"""`bench matrix`: expand a grid of runs, launch them (local, torchrun, SLURM via submitit),
skip finished runs, resume unfinished ones and keep a locked index of their states.

Modules: spec (typed MatrixSpec, YAML), grid (GridPoint, identity hash, expansion),
plan (skip/resume/fresh/replace), resolve (the config ``bench run`` will resolve), command
(``bench run`` / torchrun command lines), execute (one run as a subprocess), index (locked
JSONL index), local / slurm (launchers), table (live states), run (the whole matrix).
"""

from bench.matrix.grid import GridPoint, expand
from bench.matrix.index import IndexEntry, RunIndex
from bench.matrix.plan import Decision, decide
from bench.matrix.run import MatrixResult, dry_run, plan_matrix, run_matrix
from bench.matrix.spec import MatrixSpec, SlurmResources, load_spec, spec_from_dict

__all__ = [
    "Decision",
    "GridPoint",
    "IndexEntry",
    "MatrixResult",
    "MatrixSpec",
    "RunIndex",
    "SlurmResources",
    "decide",
    "dry_run",
    "expand",
    "load_spec",
    "plan_matrix",
    "run_matrix",
    "spec_from_dict",
]
