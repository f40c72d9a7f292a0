"""Data layer: readers, splits, graphs, caches. Units inside: eV, Angstrom, eV/Angstrom."""
