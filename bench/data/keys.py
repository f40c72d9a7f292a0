"""Every field of a structure and of a torch_geometric batch, documented once.

N is the number of atoms in a batch, B the number of structures, E the number of edges.
Units inside dens-bench: energies eV, lengths Angstrom, forces eV/Angstrom, sigma Angstrom.
"""

from __future__ import annotations

Z = "z"  #: long [N]; atomic numbers
POS = "pos"  #: float [N, 3]; Cartesian positions, Angstrom
BATCH = "batch"  #: long [N]; index of each atom's structure in the batch
ENERGY = "energy"  #: float64 [B]; total (or referenced, OC20) energy, eV
FORCES = "forces"  #: float [N, 3]; forces, eV/Angstrom
FIXED = "fixed"  #: bool [N]; True for atoms held fixed (OC20 subsurface); excluded from loss
TAGS = "tags"  #: long [N]; OC20 tags 0 subsurface, 1 surface, 2 adsorbate
CELL = "cell"  #: float [B, 3, 3]; lattice vectors as rows, Angstrom (zeros when not periodic)
PBC = "pbc"  #: bool [B, 3]; periodic directions (all False for molecules)
NATOMS = "natoms"  #: long [B]; atoms per structure
SID = "sid"  #: list[str] of length B; structure id "<source>:<index>"
ENCODED_FORCES = "encoded_forces"  #: float [N, 3]; raw forces to encode (DeNS), a network
#: input in the method's ``encoded_force_unit`` (eV/Angstrom, or kcal/mol/Angstrom as the
#: authors' MD17 code encodes them; bench.methods.dens); zero rows mean nothing to encode;
#: the key absent means no encoding at all.
NOISE_SIGMA = "noise_sigma"  #: float [N]; DeNS sigma-encoding ablation only: the noise std of
#: each atom's structure (Angstrom; 0 for clean structures). Read only by backbones that
#: declare ``sigma_encoding = True`` and are built with ``encode_sigma=True``.
# The atoms whose outputs are training targets travel as bench.data.heads.HeadRequest, beside
# the batch (never in it).
STRAIN = "strain"  #: float [B, 3, 3]; a zero displacement gradient the edge vectors are
#: deformed by, ``edge_vec @ (I + strain)``, so that dE/dstrain / volume is the stress (set only
#: by the ASE calculator; absent everywhere else).

# Graph fields, built by bench.data.graphs from pos (never stored in a batch by a method).
EDGE_INDEX = "edge_index"  #: long [2, E]; row 0 source j (neighbour), row 1 target i (centre)
EDGE_SHIFT = "edge_shift"  #: float [E, 3]; periodic image shift in Angstrom (cell offsets @ cell)
# Edge vector convention: edge_vec = pos[src] - pos[dst] + edge_shift (points from centre i to
# neighbour j); messages flow from src to dst and are aggregated at dst.

# Model outputs (backbones return a dict with these keys).
OUT_ENERGY = "energy"  #: float64 [B], eV (de-normalised in float64)
OUT_FORCES = "forces"  #: float [N, 3], eV/Angstrom
OUT_NOISE = "noise"  #: float [N, 3], dimensionless prediction of eps / sigma_norm
