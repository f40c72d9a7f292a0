"""Unit conversions, in one place. Inside dens-bench: eV, Angstrom, eV/Angstrom."""

from __future__ import annotations

#: 1 kcal/mol in eV: 4184 J/mol / (N_A * e) = 4184 / 96485.33212 = 0.0433641043 eV
#: (0.0433641 eV to 7 digits; 43.364 meV as quoted by the paper).
KCAL_PER_MOL_TO_EV = 4184.0 / 96485.33212331001
#: 1 kJ/mol in eV (1000 J/mol / (N_A * e)).
KJ_PER_MOL_TO_EV = 1000.0 / 96485.33212331001
#: 1 Hartree in eV (CODATA 2018).
HARTREE_TO_EV = 27.211386245988
#: 1 Bohr in Angstrom (CODATA 2018).
BOHR_TO_ANGSTROM = 0.529177210903

#: energy unit spellings (lower case, as sGDML's ``e_unit`` writes them) -> eV per unit
ENERGY_UNITS = {
    "ev": 1.0,
    "mev": 1.0e-3,
    "kcal/mol": KCAL_PER_MOL_TO_EV,
    "kj/mol": KJ_PER_MOL_TO_EV,
    "ha": HARTREE_TO_EV,
    "hartree": HARTREE_TO_EV,
    "au": HARTREE_TO_EV,
}
#: length unit spellings (lower case, as sGDML's ``r_unit`` writes them) -> Angstrom per unit
LENGTH_UNITS = {
    "ang": 1.0,
    "angstrom": 1.0,
    "a": 1.0,
    "bohr": BOHR_TO_ANGSTROM,
    "au": BOHR_TO_ANGSTROM,
    "nm": 10.0,
}


def energy_to_ev(unit: str) -> float:
    """eV per ``unit`` (``"kcal/mol"``, ``"eV"``, ``"Ha"``, ...); ValueError for others."""
    return _factor(unit, ENERGY_UNITS, "energy")


def length_to_angstrom(unit: str) -> float:
    """Angstrom per ``unit`` (``"Ang"``, ``"Bohr"``, ``"nm"``); ValueError for others."""
    return _factor(unit, LENGTH_UNITS, "length")


def _factor(unit: str, table: dict[str, float], kind: str) -> float:
    key = str(unit).strip().lower()
    if key not in table:
        raise ValueError(f"unknown {kind} unit {unit!r}; known: {', '.join(table)}")
    return table[key]


__all__ = [
    "BOHR_TO_ANGSTROM",
    "ENERGY_UNITS",
    "HARTREE_TO_EV",
    "KCAL_PER_MOL_TO_EV",
    "KJ_PER_MOL_TO_EV",
    "LENGTH_UNITS",
    "energy_to_ev",
    "length_to_angstrom",
]
