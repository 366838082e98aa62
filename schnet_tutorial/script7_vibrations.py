r"""script7_vibrations.py: "Is the force field physically right?" (beyond the slides: a chemist's check).

A small test-set force error does not tell whether a force field gets the molecule right. A chemist checks the
minimum-energy structure and the vibrations, so this script compares the trained model with PBE/def2-SVP
itself (the reference the project made: data/ethanol_pbe_normal_modes.json): the optimised geometry, the
harmonic frequencies mode by mode in :math:`\mathrm{cm^{-1}}`, and the vibrational spectrum of a
constant-energy MD run of the model with the PBE lines on top.
"""

from schnet_tutorial.helpers import md  # isort: skip (first: it quiets SchNetPack's import)
import json
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from ase import Atoms, units
from ase.build import minimize_rotation_and_translation
from ase.io import Trajectory, write
from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS

from common.plotting import save_figure, show
from common.runs import RESULTS_DIR, SCHNET_DATA_DIR
from common.settings import check_writable, fail, setup
from schnet_tutorial.helpers import model_files, record, vibrations

# %% Settings: edit these, or override them on the command line (--model-file PATH --md-steps 4000)
MODEL_FILE = ""  # "" = the newest model script2 trained; or a model file or its folder (as script3 takes)
MODEL_FILE_2 = ""  # a second model to compare in the same figures ("" = none)
OPT_FMAX_EV_A = 1e-4  # the model's geometry optimisation stops when every force is below this (eV/Å)
HESSIAN_STEP_A = 0.001  # displacement of the finite-difference Hessian (Å)
MD_STEPS = 20000  # NVE steps of the model: 20,000 x 0.5 fs = 10 ps
TIMESTEP_FS = 0.5  # MD time step (fs); the O-H stretch has a period of 9 fs
TEMPERATURE_K = 300.0  # mean temperature of the NVE run (K): it starts at the minimum with 2 x this
CORRELATION_FS = 2000.0  # longest time lag of the velocity autocorrelation (fs): peaks ~17 cm^-1 wide
SEED = 0  # the initial velocities
setup(globals(), "script7_vibrations")  # command-line overrides and checks

# %% 1 Data
# The reference made by generators/make_normal_modes.py: trans-ethanol optimised with PBE/def2-SVP (the level
# of theory of the training frames), its Hessian (second derivatives of the energy, :math:`\mathrm{eV/Å^2}`)
# and the :math:`3N - 6 = 21` harmonic frequencies. Normal modes: the Hessian divided by
# :math:`\sqrt{m_i m_j}` is diagonalised; each eigenvector is a pattern of atoms moving together (a normal
# mode), its eigenvalue :math:`\omega^2` gives the frequency. The 6 zero eigenvalues are the molecule moving
# or rotating as a whole.
t_start = time.perf_counter()
check_writable(RESULTS_DIR)  # before the work: a read-only folder or a full disk
REFERENCE = SCHNET_DATA_DIR / "ethanol_pbe_normal_modes.json"
ref = vibrations.load_reference(REFERENCE)  # (one line if it is missing or broken)
pbe = Atoms(numbers=ref["numbers"], positions=ref["positions_A"])
symbols = pbe.get_chemical_symbols()
pbe_freqs, pbe_vectors = vibrations.normal_modes(pbe, np.array(ref["hessian_eV_A2"]))
names = ref["mode_names"]
rule = md.StabilityMonitor(pbe, dyn=None)  # script3's bonds: pairs closer than 1.2 x their covalent radii
bonds = list(zip(rule.bi.tolist(), rule.bj.tolist()))
print(
    f"PBE reference: {ref['level_of_theory']}, {ref['conformer']} ethanol, {len(pbe_freqs)} modes "
    f"from {pbe_freqs[0]:.0f} to {pbe_freqs[-1]:.0f} cm^-1, {len(bonds)} bonds"
)

# %% 2 Model
# Any SchNetPack model that predicts energy and forces: the newest one script2 trained, or MODEL_FILE
# (and MODEL_FILE_2 for a comparison). md.make_calculator turns it into an ASE calculator (forces =
# :math:`-dE/dR` of the model by automatic differentiation), the same calculator script3 runs MD with.
paths = [Path(MODEL_FILE) if MODEL_FILE else model_files.newest_model()]
paths += [Path(MODEL_FILE_2)] if MODEL_FILE_2 else []
models = []
for path in paths:
    model = model_files.load_model(path)
    model_files.check_model(path, model, pbe, what="ethanol")  # stops if it never saw C, H or O
    folder = path if path.is_dir() else path.parent
    info_file = folder / model_files.INFO_FILE
    info = json.loads(info_file.read_text(encoding="utf-8")) if info_file.is_file() else {}
    force_mae = info.get("results", {}).get("force_mae_kcal_mol_A")  # script2's test error, if known
    calc = md.make_calculator(model, pbe, model_files.model_energy_unit(path))
    models.append({"label": folder.name, "path": path, "calc": calc, "force_mae": force_mae})
    known = f"test force MAE {force_mae:.3f} kcal/mol/Å" if force_mae else "test force MAE not recorded"
    print(f"model {folder.name}: {model_files.shown(path)} ({known})")
if len(models) == 2 and models[0]["label"] == models[1]["label"]:
    models[0]["label"], models[1]["label"] = "model 1", "model 2"

# %% 3 Cost function
# Nothing is trained here: the model is judged. The measures, each against PBE: the RMSD (root-mean-square
# distance of the atoms, after the best overlay) of the model's minimum and its bond lengths (good force
# fields err by less than 0.005 Å on covalent bonds); the harmonic frequency of each normal mode
# (:math:`\mathrm{cm^{-1}}`), the modes paired with PBE's by their shapes; and the peaks of the MD spectrum.
print("measured against PBE: RMSD and bonds (Å), harmonic frequencies and the MD spectrum (cm^-1)")

# %% 4 Find the parameters
# The parameters found here are the atoms' positions at the model's own minimum: BFGS (a quasi-Newton
# optimiser, ASE) from the PBE minimum, moving the atoms along the model's forces until every force
# component is below OPT_FMAX_EV_A. If the model were PBE the atoms would not move.
for m in models:
    t0 = time.perf_counter()
    atoms = pbe.copy()
    atoms.calc = m["calc"]
    opt = BFGS(atoms, logfile=None)
    converged = opt.run(fmax=OPT_FMAX_EV_A, steps=2000)
    minimize_rotation_and_translation(pbe, atoms)  # overlay on the PBE minimum
    m["atoms"] = atoms
    m["rmsd"] = vibrations.rmsd(atoms, pbe) if opt.nsteps else float("nan")  # no step taken: no result
    m["bonds"] = [atoms.get_distance(i, j) for i, j in bonds]
    m["opt_s"] = time.perf_counter() - t0
    note = vibrations.minimum_note(opt.nsteps, converged, atoms.get_forces(), OPT_FMAX_EV_A)
    print(f"{m['label']}: {opt.nsteps} BFGS steps, {m['opt_s']:.1f} s; RMSD to PBE {m['rmsd']:.4f} Å{note}")

print(f"\n{'bond':8s} {'PBE (Å)':>9s}" + "".join(f" {m['label'][:22]:>22s}" for m in models))
for k, (i, j) in enumerate(bonds):
    row = "".join(
        f" {m['bonds'][k]:10.4f} ({(m['bonds'][k] - pbe.get_distance(i, j)) * 1000:+5.1f} mÅ)" for m in models
    )
    print(f"{symbols[i]}{i}-{symbols[j]}{j:<3d} {pbe.get_distance(i, j):9.4f}{row}")

# Harmonic vibrations of the model at its own minimum: the Hessian by central finite differences of the
# model's forces (column j = -(F(x + h e_j) - F(x - h e_j)) / 2h, 2 x 27 force calls), then the same
# normal-mode analysis as for PBE. Modes are paired with PBE's by their shapes (the largest overlap of the
# mass-weighted vectors, one to one), not only by their order: two close modes may swap places. Then an NVE
# run of the model (velocity Verlet, no thermostat) from its minimum with random velocities at 2 x
# TEMPERATURE_K (half of the kinetic energy goes into potential energy); every step's velocities are kept.
for m in models:
    t0 = time.perf_counter()
    m["hessian"] = vibrations.hessian(m["atoms"], m["calc"], HESSIAN_STEP_A)
    m["freqs"], vectors = vibrations.normal_modes(m["atoms"], m["hessian"])
    m["matched"], m["overlap"] = vibrations.match_modes(pbe_vectors, m["freqs"], vectors)  # 1: the same shape
    m["errors"] = m["matched"] - pbe_freqs
    m["mae"], m["max_err"] = float(np.abs(m["errors"]).mean()), float(np.abs(m["errors"]).max())
    m["modes_s"] = time.perf_counter() - t0
    print(
        f"{m['label']}: harmonic frequencies in {m['modes_s']:.1f} s: MAE {m['mae']:.1f} cm^-1, "
        f"max error {m['max_err']:.1f} cm^-1 ({names[int(np.abs(m['errors']).argmax())]})"
    )

run_dir = record.new_run(RESULTS_DIR / "script7_vibrations")  # a new folder per run: earlier runs are kept
for k, m in enumerate(models):
    t0 = time.perf_counter()
    atoms = m["atoms"].copy()
    atoms.calc = m["calc"]
    thermalize_momenta(atoms, temperature_K=2 * TEMPERATURE_K, rng=np.random.default_rng(SEED))
    Stationary(atoms)  # no drift of the whole molecule ...
    ZeroRotation(atoms)  # ... and no rotation: only vibrations are left
    dyn = VelocityVerlet(atoms, timestep=TIMESTEP_FS * units.fs)
    velocities, energies = np.zeros((MD_STEPS + 1, len(atoms), 3)), np.zeros(MD_STEPS + 1)

    def keep():
        velocities[dyn.nsteps] = atoms.get_velocities()
        energies[dyn.nsteps] = atoms.get_potential_energy() + atoms.get_kinetic_energy()

    m["traj"] = run_dir / f"md_model{k + 1}.traj"
    with Trajectory(str(m["traj"]), "w", atoms) as traj:
        dyn.attach(md.StabilityMonitor(atoms, dyn), interval=1)  # script3's rule: stops when a bond breaks
        dyn.attach(keep, interval=1)
        dyn.attach(traj.write, interval=20)
        try:
            dyn.run(MD_STEPS)
            m["md_broke"], n = "", MD_STEPS + 1
        except md.MDBlowUpError as exc:
            m["md_broke"], n = str(exc), dyn.nsteps  # the steps before it are kept
            traj.write()  # the broken geometry, last in the movie
    m["velocities"], m["md_steps"] = velocities[:n], n - 1
    twice_kinetic = np.sum(atoms.get_masses()[:, None] * velocities[:n] ** 2, axis=(1, 2))  # (eV)
    m["temperature"] = float(np.mean(twice_kinetic) / (3 * len(atoms) - 6) / units.kB)  # 3N - 6 vibrations
    m["drift_mev"] = float((energies[n - 1] - energies[0]) / len(atoms) * 1000)
    m["md_s"] = time.perf_counter() - t0
    print(
        f"{m['label']}: NVE {m['md_steps']} steps ({m['md_steps'] * TIMESTEP_FS / 1000:g} ps) in "
        f"{m['md_s']:.1f} s, mean temperature {m['temperature']:.0f} K, total-energy drift "
        f"{m['drift_mev']:+.2f} meV/atom" + (" - STOPPED: a bond broke" if m["md_broke"] else "")
    )


# The spectrum of the run: how strongly the atoms' velocities oscillate at each frequency. The velocity
# autocorrelation C(t) (how similar the velocities are a time t apart) is cut off at CORRELATION_FS with
# a smooth window and Fourier-transformed: a longer cut-off, sharper peaks, but more noise to average.
for m in models:  # (a run that broke within its first 20 steps has no spectrum)
    max_lag = min(CORRELATION_FS, m["md_steps"] * TIMESTEP_FS / 2)
    spectrum = vibrations.power_spectrum(m["velocities"], pbe.get_masses(), TIMESTEP_FS, max_lag)
    m["spectrum"] = spectrum if m["md_steps"] >= 20 else None

# %% 5 Look at the result
# The table: each PBE mode with its name, the model's frequency of the same shape, the error, and the
# overlap of the two shapes (1 = identical). The stretches of light atoms (O-H ~3700, C-H ~3000) and the
# skeleton (C-O, C-C ~900-1100 :math:`\mathrm{cm^{-1}}`) depend on bond stiffness; the torsions (the OH and
# CH3 groups turning, ~250-300) on tiny energy differences that few training frames sample well: there the
# model errs most. A smaller force MAE does not always give better frequencies (compare two models with
# --model-file-2). An imaginary frequency (the energy curves down along that mode: the optimised geometry is
# a saddle point, not a minimum) is shown as a negative number, left of zero in the figures, and said below.
labels = ", ".join(f"model{k + 1} = {m['label']}" for k, m in enumerate(models))
print(f"\nharmonic frequencies (cm^-1): {labels}")
columns = "".join(f" model{k + 1}  error overlap" for k in range(len(models)))
print(f"{'#':>2s} {'mode':30s} {'PBE':>7s}{columns}")
for i in range(len(pbe_freqs)):
    row = "".join(f" {m['matched'][i]:7.1f} {m['errors'][i]:+6.1f} {m['overlap'][i]:7.2f}" for m in models)
    print(f"{i + 1:2d} {names[i]:30s} {pbe_freqs[i]:7.1f}{row}")
for m in models:
    print(
        f"{m['label']}: MAE {m['mae']:.1f} cm^-1, max error {m['max_err']:.1f} cm^-1, RMSD {m['rmsd']:.4f} Å"
    )
    if min(m["freqs"]) < 0:  # an imaginary mode: said here, and shown left of zero in the figures
        print(vibrations.imaginary_note(m["label"], m["freqs"]))

colors = ["tab:red", "tab:blue"]
fig = plt.figure(figsize=(10, 8.5), layout="constrained")
grid = fig.add_gridspec(2, 2, height_ratios=[1, 1.1])
ax = fig.add_subplot(grid[0, :])  # stick spectra: PBE up, the model(s) down
ax.vlines(pbe_freqs, 0, 1, color="black", lw=1.5, label="PBE/def2-SVP")
for k, m in enumerate(models):
    ax.vlines(m["freqs"], 0, -1 + 0.3 * k, color=colors[k], lw=1.5, label=m["label"])
    for f in m["freqs"][m["freqs"] < 0]:  # an imaginary mode: shown, left of zero, and named
        text = f"imaginary: {f:.0f}\n(not a minimum)"
        ax.text(f - 30, -0.25 - 0.5 * k, text, color=colors[k], ha="right", va="center")  # apart for 2 models
ax.axhline(0, color="gray", lw=0.5)
right = max(pbe_freqs.max(), *[m["freqs"].max() for m in models]) + 200
left = min([0.0] + [f - 600 for m in models for f in m["freqs"] if f < 0])  # room for imaginary modes
ax.set(xlabel="harmonic frequency (cm$^{-1}$)", yticks=[], xlim=(left, right))
ax.set_title("harmonic frequencies: PBE (up) and the model (down)")
ax.legend(loc="upper left", fontsize=9)
ax = fig.add_subplot(grid[1, 0])  # parity plot
top = max(pbe_freqs.max(), *[m["matched"].max() for m in models]) + 150
low = min([0.0] + [f - 150 for m in models for f in m["matched"] if f < 0])  # an imaginary mode: below 0
ax.plot([low, top], [low, top], color="gray", lw=0.8)
for k, m in enumerate(models):
    label = f"{m['label'][:30]}\nMAE {m['mae']:.1f}, max {m['max_err']:.1f} cm$^{{-1}}$"
    ax.scatter(pbe_freqs, m["matched"], s=18, color=colors[k], label=label)
ax.set(xlabel="PBE frequency (cm$^{-1}$)", ylabel="model frequency (cm$^{-1}$)", title="mode by mode")
ax.set(xlim=(low, top), ylim=(low, top), aspect="equal")
ax.legend(loc="upper left", fontsize=9)
ax = fig.add_subplot(grid[1, 1])  # error per mode
width = 0.8 / len(models)
for k, m in enumerate(models):
    shift = (k - (len(models) - 1) / 2) * width
    ax.barh(np.arange(len(pbe_freqs)) + shift, m["errors"], height=width, color=colors[k])
ax.axvline(0, color="gray", lw=0.8)
ax.set_yticks(np.arange(len(pbe_freqs)), [f"{f:.0f} {n}" for f, n in zip(pbe_freqs, names)], fontsize=8)
ax.set(xlabel="model - PBE (cm$^{-1}$)", title="error of each mode")
save_figure(fig, "schnet_vibrations_modes")
save_figure(fig, "schnet_vibrations_modes", run_dir)

# The spectrum of the MD: every peak is a vibration the molecule really performs at this temperature,
# anharmonicity included, so the peaks sit near (not on) the harmonic lines: stretches of light atoms
# shift down (a real bond softens as it stretches) and broaden, the more the hotter the run. Grey:
# PBE's harmonic lines; coloured ticks: the model's own, so that peak to tick is the model's anharmonic
# shift and tick to grey line its error. Not an infrared spectrum (that needs the dipole moment): a
# peak's height is the kinetic energy its mode holds in this run (exercise 2: another SEED).
fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
ax.vlines(pbe_freqs, -1.1 * (len(models) - 1), 1.05, color="gray", lw=1, alpha=0.8, label="PBE harmonic")
for k, m in enumerate(models):
    if m["spectrum"] is not None:
        label = f"{m['label'][:40]}: MD {m['md_steps'] * TIMESTEP_FS / 1000:g} ps, {m['temperature']:.0f} K"
        ax.plot(m["spectrum"][0], m["spectrum"][1] - 1.1 * k, color=colors[k], lw=1, label=label)
    ax.vlines(m["freqs"], -1.1 * k - 0.08, -1.1 * k, color=colors[k], lw=1.5)
ax.set(xlim=(left, 4000), xlabel="wavenumber (cm$^{-1}$)", ylabel="power (normalised)")
ax.set_title("vibrational spectrum of the NVE run (velocity autocorrelation) against PBE's harmonic lines")
ax.legend(loc="upper left", fontsize=9)
save_figure(fig, "schnet_vibrations_md_spectrum")
save_figure(fig, "schnet_vibrations_md_spectrum", run_dir)

# The PBE mode the model gets most wrong, as a movie for ase gui (Tools -> Movie): which atoms move?
worst = int(np.abs(models[0]["errors"]).argmax())
shape = pbe_vectors[worst].reshape(-1, 3) / np.sqrt(pbe.get_masses())[:, None]
shape *= 0.3 / np.abs(shape).max()  # largest displacement 0.3 Å, to see it
mode_file = run_dir / f"pbe_mode{worst + 1}.traj"
frames = [Atoms(pbe.numbers, pbe.positions + np.sin(2 * np.pi * t / 30) * shape) for t in range(30)]
write(str(mode_file), frames)
print(f"the PBE mode with the model's largest error, as a movie: ase gui {model_files.shown(mode_file)}")
show()
result = {}  # the headline numbers of the first model (and of the second, prefixed model2_)
for prefix, m in zip(("", "model2_"), models):
    result[f"{prefix}freq_mae_cm1"] = f"{m['mae']:.2f}"
    result[f"{prefix}freq_max_err_cm1"] = f"{m['max_err']:.2f}"
    result[f"{prefix}rmsd_A"] = f"{m['rmsd']:.4f}"
keys = {"label": "label", "path": "path", "model_cm1": "matched", "mae_cm1": "mae", "max_err_cm1": "max_err",
        "rmsd_A": "rmsd", "test_force_mae_kcal_mol_A": "force_mae", "bonds_A": "bonds",
        "md_steps": "md_steps", "md_temperature_K": "temperature", "drift_meV_per_atom": "drift_mev",
        "md_stopped": "md_broke", "trajectory": "traj"}  # fmt: skip
bond_names = [f"{symbols[i]}{i}-{symbols[j]}{j}" for i, j in bonds]
details = {"reference": REFERENCE, "mode_names": names, "pbe_cm1": pbe_freqs.round(2), "bonds": bond_names}
details["models"] = [{name: m[key] for name, key in keys.items()} for m in models]
record.finish(run_dir, result, details)
broken = next((m for m in models if m["md_broke"]), None)  # the first model whose MD blew up
if broken:
    fail(
        f"the MD of {broken['label']} blew up: {broken['md_broke']}: the model is not good enough for MD at "
        f"{TEMPERATURE_K:g} K (train it longer, or lower TEMPERATURE_K); the harmonic results above stand "
        f"and the trajectory up to there is in {model_files.shown(broken['traj'])}",
        1,
    )

# %% Exercises
# Worked answers: solutions/script7_vibrations.py (run it, or read it on the lesson's page).
#
# 1. (read the figure) In schnet_vibrations_modes.png and the table: which mode has the largest error?
#    Relative to its frequency, does the model err more on the modes below 1500 :math:`\mathrm{cm^{-1}}`
#    or on the stretches?
# 2. (predict, then run) ``--seed 1`` changes only the starting velocities of the NVE run. Before you
#    run: will the peaks of the MD spectrum move, or only change their heights? Then run and compare.
# 3. (write code) Deuterate the hydroxyl group: give its H the mass of D (2.014) and redo PBE's normal
#    modes (``vibrations.normal_modes`` of the reference Hessian). Predict first from the reduced mass:
#    where does the O-H stretch at 3720 :math:`\mathrm{cm^{-1}}` go? Which other modes move by more than 10 %?
