"""The generators of the shipped PBE data (need requirements-dataset.txt: PySCF).

make_ethanol_dataset  the ethanol PBE/def2-SVP MD frames (data/ethanol_pbe.xyz.gz)
make_normal_modes     the optimised geometry and harmonic modes (data/ethanol_pbe_normal_modes.json)
"""
