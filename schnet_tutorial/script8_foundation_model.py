"""script8_foundation_model.py: "I have only a few DFT frames: should I start from a foundation model?"

Beyond the slides. Most chemists now meet machine-learned force fields as pretrained "foundation"
models, fine-tuned on a few of their own DFT frames. SO3LR (so3krates-torch, an optional install) was
trained on millions of molecular structures at another level of theory (PBE0+MBD) and ships its weights
with the package. This lesson tests it as it is on our PBE ethanol frames, fine-tunes it on N of them
with the library's own training entry point (two choices of which weights learn), and trains the same
frames from scratch with script2's pipeline: the test force error against N says when starting from
the foundation model pays. Then the fine-tuned model is judged as a chemist would: a short MD (script3's
checks) and its harmonic frequencies against PBE's (script7's comparison).
"""

from schnet_tutorial.helpers import dataset  # isort: skip (first: it quiets SchNetPack's import)
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from ase import Atoms, units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta

from common.plotting import plain_log_labels, save_figure, show
from common.runs import DATABASE, RESULTS_DIR, SCHNET_DATA_DIR
from common.settings import check, check_writable, fail, setup
from schnet_tutorial.helpers import foundation, md, model_files, pipeline, record, vibrations, workers

# %% Settings: edit these, or override them on the command line (--train-sizes 25 50 --finetune lora)
N_TRAIN = 50  # training frames of the fine-tuned model kept, run in MD and saved (one of TRAIN_SIZES)
TRAIN_SIZES = [25, 50, 250]  # training frames N of the comparison: each fine-tuned and trained from scratch
FINETUNE = ["naive", "lora"]  # which SO3LR weights learn: naive (all of the network's), lora, last_layer, all
FINETUNE_STEPS = 150  # optimizer steps of each fine-tuning (batches of BATCH_SIZE frames)
LEARNING_RATE = 1e-3  # fine-tuning's learning rate at the start (Adam; a cosine down to 0)
BATCH_SIZE = 5  # frames per fine-tuning step
MODEL = "painn"  # the model trained from scratch: script2's pipeline with script4's settings
STEPS = 3750  # optimizer steps of each training from scratch (script4's: its trainings are reused)
N_VAL = 200  # validation frames (script4's; fine-tuning validates on the first 50 of them)
N_TEST = 500  # test frames, the same for every model (script4's)
SPLIT_SEED = 0  # which frames are test, validation and training pool (dataset.split, as script4)
MODEL_FILE = ""  # the model to fine-tune: "" = the SO3LR bundled with so3krates-torch
MD_STEPS = 500  # Langevin MD steps of the fine-tuned model (script3's thermostat)
TIMESTEP_FS = 0.5  # MD time step (fs)
TEMPERATURE_K = 300.0  # MD temperature (K)
FRICTION_PER_FS = 0.01  # Langevin friction (1/fs)
OPT_FMAX_EV_A = 1e-3  # the geometry optimisation stops when every force is below this (eV/Å)
HESSIAN_STEP_A = 0.001  # displacement of the finite-difference Hessian (Å)
FORCE = False  # True (--force): fine-tune and train again instead of reusing finished ones
SEED = 0  # fine-tuning's batch order, the MD's velocities and noise
# Hardware
N_WORKERS = 2  # trainings side by side, one CPU core each
setup(globals(), "script8_foundation_model")  # command-line overrides and checks

# %% 1 Data
# script4's split (dataset.split): the same N_TEST test and N_VAL validation frames for every model,
# the training frames of size N the first N of one shuffle of the pool (nested: the 25 are part of the
# 50). SO3LR reads ASE Atoms with the PBE energy and forces as labels (eV, eV/Å, the library's keys).
foundation.require()  # (one line with the install command if so3krates-torch is missing)
check(N_TRAIN in TRAIN_SIZES, f"N_TRAIN ({N_TRAIN}) must be one of TRAIN_SIZES {TRAIN_SIZES}")
folder = RESULTS_DIR / "script8_foundation_model"  # fine-tunings (reused by reruns) and each run's record
check_writable(folder.parent)
t_start = time.perf_counter()
torch.set_num_threads(1)
n_frames = dataset.count_frames(DATABASE)  # (one line if script1 has not made the database)


def frames(n):
    """(train, validation, test) frame indices with n training frames: script4's draw 0."""
    return dataset.split(n_frames, n, N_VAL, N_TEST, SPLIT_SEED, 0)


_, val_idx, test_idx = frames(max(TRAIN_SIZES))
test, valid = foundation.to_atoms(DATABASE, test_idx), foundation.to_atoms(DATABASE, val_idx[:50])
train = {n: foundation.to_atoms(DATABASE, frames(n)[0]) for n in TRAIN_SIZES}
print(f"{n_frames} frames: {N_TEST} test, {N_VAL} validation; training sets of {TRAIN_SIZES} frames")

# %% 2 Model
# SO3LR: an equivariant transformer (So3krates, 3 layers) plus physics: a short-range repulsion,
# electrostatics of learned partial charges and dispersion, out to 12 Å. It learned forces and relative
# energies, not absolute ones: its per-element energy shifts are refitted here by least squares on
# the training frames (foundation.refit_shifts). Forces do not depend on them. Then it is tested as
# it is ("zero-shot"): no weight has seen our PBE frames.
model = foundation.load(MODEL_FILE)  # (one line if the file is missing, broken or not SO3LR)
foundation.check_elements(MODEL_FILE, test[0].numbers)
print(f"SO3LR: {sum(p.numel() for p in model.parameters()):,} parameters, cutoff {model.r_max} Å")
start_models = {}
for n in TRAIN_SIZES:  # each training set its own shifts (the start of its fine-tunings)
    foundation.refit_shifts(model, train[n], foundation.predict(model, train[n])[0])
    start_models[n] = folder / "start_models" / f"so3lr_shifts_n{n}.model"
    start_models[n].parent.mkdir(parents=True, exist_ok=True)
    if n == N_TRAIN:
        zero_e, zero_f = foundation.predict(model, test)
        zero = foundation.errors(zero_e, zero_f, test)
    torch.save(model, start_models[n])
e_ref, f_ref = foundation.reference(test)
symbols = np.array(test[0].get_chemical_symbols() * len(test))
by_element = {
    s: np.abs(zero_f - f_ref)[symbols == s].mean() * foundation.KCAL for s in dict.fromkeys(symbols)
}
print(
    f"zero-shot on the test frames: force MAE {zero['force_mae_kcal_mol_A']:.2f} kcal/mol/Å (zero forces: "
    f"{zero['zero_force_mae_kcal_mol_A']:.2f}), energy MAE {zero['energy_mae_kcal_mol']:.2f} kcal/mol "
    f"(shifts refitted on {N_TRAIN} frames); force MAE by element: "
    + ", ".join(f"{s} {v:.2f}" for s, v in by_element.items())
)

# %% 3 Cost function
# Fine-tuning minimises the library's cost: energy_weight x MSE(energy per atom, eV²) + forces_weight
# x MSE(force components, eV²/Å²), weights 1 : 100 (foundation.config). Training from scratch uses
# script4's (0.01 x MSE energy + 0.99 x MSE forces). Judged, as everywhere, by the test errors in
# kcal/mol and kcal/mol/Å on the N_TEST frames no model saw.
print("cost: 1 x MSE(energy per atom) + 100 x MSE(forces) (fine-tuning); script4's from scratch")

# %% 4 Find the parameters
# Fine-tuning starts from SO3LR's weights: with "naive" every weight of the network learns (the element
# embedding and the physics terms stay); with "lora" the weights stay and a small low-rank correction
# of every attention layer learns (fewer numbers to fit from few frames). Each is one run of the
# library's entry point (torchkrates-train with a YAML config, in its folder under
# results/script8_foundation_model/finetunings/), N_WORKERS side by side; a rerun reuses finished
# ones. Then the same frames from scratch: script2's pipeline with script4's settings
# (workers.run_all), cached in script4's folder, so script4's trainings count.


def say(name, r, cached):
    print(
        f"  {str(name):22s} test force MAE {r['force_mae_kcal_mol_A']:6.3f} kcal/mol/Å, energy MAE "
        f"{r['energy_mae_kcal_mol']:6.3f} kcal/mol, {r['train_s']:5.0f} s" + (" (reused)" if cached else ""),
        flush=True,
    )


jobs = {
    (choice, n): (
        foundation.config(choice, FINETUNE_STEPS, n, BATCH_SIZE, LEARNING_RATE, SEED),
        train[n],
        valid,
        start_models[n],
    )
    for n in TRAIN_SIZES
    for choice in FINETUNE
}
print(f"{len(jobs)} fine-tunings of {FINETUNE_STEPS} steps, {N_WORKERS} at a time:")
tuned = foundation.finetune(jobs, folder / "finetunings", test, N_WORKERS, FORCE, say)
scratch_jobs = {
    ("scratch", n): workers.job(*frames(n), STEPS, seed=0, **{**pipeline.SCHNET_SLIDES, "MODEL": MODEL})
    for n in TRAIN_SIZES
}
print(f"{len(scratch_jobs)} trainings of {MODEL} from scratch, {STEPS} steps (script4's, reused where done):")
scratch = workers.run_all(
    scratch_jobs,
    RESULTS_DIR / "script4_learning_curve",
    N_WORKERS,
    FORCE,
    say=lambda name, r, where, cached: say(name, r, cached),
)

# %% 5 Look at the result
# Left: the test force error against N (log-log): fine-tuned (a line per choice), from scratch, and
# SO3LR as it is (dotted). The gap at small N is what the pretraining buys. Every fine-tuning gets the
# same FINETUNE_STEPS (on 250 frames three passes), so its line is flat: steps, not frames, limit it.
# Right: every test force component, zero-shot and fine-tuned on N_TRAIN frames, against PBE.
curve = {c: [tuned[c, n]["force_mae_kcal_mol_A"] for n in TRAIN_SIZES] for c in FINETUNE}
curve[f"{MODEL} from scratch"] = [scratch["scratch", n]["force_mae_kcal_mol_A"] for n in TRAIN_SIZES]
best = min(FINETUNE, key=lambda c: tuned[c, N_TRAIN]["force_mae_kcal_mol_A"])
kept = tuned[best, N_TRAIN]
model_ft = foundation.load(kept["folder"] + "/finetuned.model")
ft_e, ft_f = foundation.predict(model_ft, test)
print("test force MAE (kcal/mol/Å) against N:")
for name, values in curve.items():
    print(f"  {name:22s} " + "  ".join(f"N={n}: {v:.3f}" for n, v in zip(TRAIN_SIZES, values)))
beaten = [n for n, v in zip(TRAIN_SIZES, curve[f"{MODEL} from scratch"]) if v > kept["force_mae_kcal_mol_A"]]
verdict = f"better than {MODEL} from scratch up to N = {max(beaten)}" if beaten else "worse at every N"
print(f"fine-tuned ({best}) on {N_TRAIN} frames: {kept['force_mae_kcal_mol_A']:.3f} kcal/mol/Å, {verdict}")

fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
ax = axes[0]
for k, (name, values) in enumerate(curve.items()):
    style = "s--" if "scratch" in name else "o-"
    label = name if "scratch" in name else f"SO3LR fine-tuned: {name}"
    ax.plot(TRAIN_SIZES, values, style, color=f"C{k}", label=label)
zs = zero["force_mae_kcal_mol_A"]
ax.axhline(zs, color="gray", ls=":", label=f"SO3LR as it is: {zs:.2f}")
ax.set(xscale="log", yscale="log", xlabel="training frames N", ylabel="test force MAE (kcal/mol/Å)")
ax.set_xticks(TRAIN_SIZES, labels=[str(n) for n in TRAIN_SIZES])  # the N that ran, no others
ax.tick_params(axis="x", which="minor", labelbottom=False)
plain_log_labels(ax.yaxis)
ax.set_title(f"fine-tuned SO3LR against training from scratch ({N_TEST} test frames)")
ax.legend(fontsize=9)
ax = axes[1]
for f_pred, label, color in (
    (zero_f, "zero-shot", "gray"),
    (ft_f, f"fine-tuned on {N_TRAIN} ({best})", "C0"),
):
    mae = np.abs(f_pred - f_ref).mean() * foundation.KCAL
    ax.plot(
        f_ref.ravel() * foundation.KCAL,
        f_pred.ravel() * foundation.KCAL,
        ".",
        ms=2,
        alpha=0.4,
        color=color,
        label=f"{label}: MAE {mae:.2f}",
    )
lim = np.abs(f_ref).max() * foundation.KCAL * 1.1
ax.plot([-lim, lim], [-lim, lim], color="black", lw=0.8)
ax.set(xlabel="PBE force component (kcal/mol/Å)", ylabel="model (kcal/mol/Å)", aspect="equal")
ax.set_title("every force component of the test frames")
ax.legend(fontsize=9, markerscale=5)
save_figure(fig, "foundation_model")

# The fine-tuned model where later scripts can take it: a new folder under models/ per run.
saved = foundation.save(kept, best, train[N_TRAIN])
print(f"fine-tuned model saved: {model_files.shown(saved)}")

# The chemist's checks, zero-shot and fine-tuned: the minimum (BFGS from PBE's, as script7), its
# bond lengths, and the harmonic frequencies mode by mode against PBE's (script7's reference and
# pairing of modes by shape); then a Langevin MD of the fine-tuned model with script3's checks.
ref = vibrations.load_reference(SCHNET_DATA_DIR / "ethanol_pbe_normal_modes.json")
pbe = Atoms(numbers=ref["numbers"], positions=ref["positions_A"])
pbe_freqs, pbe_vectors = vibrations.normal_modes(pbe, np.array(ref["hessian_eV_A2"]))
bonds = md.StabilityMonitor(pbe, dyn=None)  # script3's bonds
checks = {}
for label, m in (("zero-shot", foundation.load(MODEL_FILE)), ("fine-tuned", model_ft)):
    c = checks[label] = vibrations.compare(
        pbe, pbe_freqs, pbe_vectors, foundation.calculator(m), OPT_FMAX_EV_A, HESSIAN_STEP_A
    )
    c["bond"] = max(
        abs(c["atoms"].get_distance(i, j) - pbe.get_distance(i, j)) for i, j in zip(bonds.bi, bonds.bj)
    )
    worst = ref["mode_names"][np.abs(c["errors"]).argmax()]
    print(
        f"{label}: minimum RMSD to PBE {c['rmsd']:.4f} Å, largest bond error {c['bond'] * 1000:.1f} mÅ; "
        f"harmonic frequencies MAE {c['mae']:.1f} cm^-1, largest {c['max_err']:.1f} cm^-1 ({worst})"
    )

atoms = checks["fine-tuned"]["atoms"].copy()
atoms.calc = foundation.calculator(model_ft)
rng = np.random.default_rng(SEED)
thermalize_momenta(atoms, temperature_K=TEMPERATURE_K, rng=rng)
Stationary(atoms)
ZeroRotation(atoms)
dt, friction = TIMESTEP_FS * units.fs, FRICTION_PER_FS / units.fs
dyn = Langevin(atoms, dt, temperature_K=TEMPERATURE_K, friction=friction, fixcm=False, rng=rng)
monitor = md.StabilityMonitor(atoms, dyn)
dyn.attach(monitor, interval=1)
temperatures = []
dyn.attach(lambda: temperatures.append(atoms.get_temperature()), interval=1)
broke, t_md = "", time.perf_counter()
try:
    dyn.run(MD_STEPS)
except md.MDBlowUpError as exc:
    broke = str(exc)
md_temperature = np.mean(temperatures[len(temperatures) // 2 :])  # K, the second half (as script3)
print(
    f"MD of the fine-tuned model: {dyn.nsteps} steps ({dyn.nsteps * TIMESTEP_FS:g} fs) in "
    f"{time.perf_counter() - t_md:.1f} s, mean temperature {md_temperature:.0f} K (second half), bonds "
    f"between {monitor.ratio_range[0]:.2f} and {monitor.ratio_range[1]:.2f} x their start"
    + (f": {broke}" if broke else "")
)
show()

run_dir = record.new_run(folder)  # results.json of this run (earlier runs are kept)
result = {
    "zero_shot_force_mae_kcal_mol_A": zero["force_mae_kcal_mol_A"],
    "zero_shot_energy_mae_kcal_mol": zero["energy_mae_kcal_mol"],
    "finetuned_force_mae_kcal_mol_A": kept["force_mae_kcal_mol_A"],
    "finetuned_energy_mae_kcal_mol": kept["energy_mae_kcal_mol"],
    **{f"finetuned_{c}_force_mae_kcal_mol_A": tuned[c, N_TRAIN]["force_mae_kcal_mol_A"] for c in FINETUNE},
    "scratch_force_mae_kcal_mol_A": scratch["scratch", N_TRAIN]["force_mae_kcal_mol_A"],
    "n_train": N_TRAIN,
    "scratch_beaten_up_to_n": max(beaten) if beaten else 0,
    "zero_shot_freq_mae_cm1": checks["zero-shot"]["mae"],
    "finetuned_freq_mae_cm1": checks["fine-tuned"]["mae"],
    "md_steps": dyn.nsteps,
    "md_temperature_K": md_temperature,
    "total_s": time.perf_counter() - t_start,
}
details = {"curves_force_mae_kcal_mol_A": curve, "train_sizes": TRAIN_SIZES, "model_file": saved}
record.finish(run_dir, result, details)
if broke:
    fail(
        f"the MD of the fine-tuned model blew up: {broke}: fine-tune on more frames or for more "
        "FINETUNE_STEPS; the results above stand",
        1,
    )

# %% Exercises
# Worked answers: solutions/script8_foundation_model.py (run it, or read it on the lesson's page).
#
# 1. (predict, then run) Fine-tune for a third of the steps: ``--finetune-steps 50 --train-sizes 50
#    --finetune lora``. Before you run: does the test force error at N = 50 rise a little or a lot,
#    and is it still below the from-scratch PaiNN's on 250 frames? Then run and compare.
# 2. (read the figure) In the left panel, how many frames does the from-scratch model need to match
#    the fine-tuned SO3LR on 25 frames? Does the advantage of fine-tuning grow or shrink with N?
# 3. (write code) Is SO3LR's zero-shot error mostly in the size of the forces or in their direction?
#    Write a function that takes predicted and PBE forces (atoms x 3) and returns the median angle
#    between them (degrees) and the median ratio of their lengths; apply it to the zero-shot model and
#    to the fine-tuned one the lesson saved (foundation.load, foundation.predict).
