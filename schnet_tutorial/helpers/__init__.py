"""What the SchNet lessons share, one concern per module.

quiet        the libraries' notes that do not concern a student (imported first)
dataset      files, the SchNetPack database, model inputs, the one split (dataset.split)
model_files  model folders, model_info.json, loading a model safely, checks (elements, units)
md           the fast ASE calculator, the start geometry, the stability monitor, MD files
pipeline     script2's training pipeline as one function (the same model, cost and schedule)
workers      many trainings of that pipeline, cached and side by side (script4-6)
committee    the committee of script5 and script6: trainings, forces, disagreement, committee MD
record       a run folder, results.json and the result line (script5-7)
vibrations   finite-difference Hessian, normal modes, power spectrum (script7)
"""
