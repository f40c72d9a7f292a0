"""Unit conversions, in one place. Inside dens-bench: eV, Angstrom, eV/Angstrom."""

from __future__ import annotations

#: 1 kcal/mol in eV: 4184 J/mol / (N_A * e) = 4184 / 96485.33212 = 0.0433641043 eV
#: (the issue's 0.0433641 eV to 7 digits; 43.364 meV as quoted by the paper).
KCAL_PER_MOL_TO_EV = 4184.0 / 96485.33212331001

__all__ = ["KCAL_PER_MOL_TO_EV"]
