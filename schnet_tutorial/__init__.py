"""The SchNet tutorial: the numbered lessons (script1 data ... script7 vibrations) in this folder.

helpers/     what the lessons share, one concern per module (see helpers/__init__.py)
generators/  the generators of the shipped PBE data (PySCF): make_ethanol_dataset, make_normal_modes
data/        the shipped PBE data
"""
