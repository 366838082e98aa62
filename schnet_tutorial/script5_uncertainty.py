"""script5_uncertainty.py: "When can I trust my force field?" (beyond the slides; SYLLABUS row 19).

A force field gives no warning when it meets a geometry unlike its training data. A committee of
models, trained from different seeds on different subsets of the data, agrees where the data taught
them the same thing and disagrees where it did not: the spread of their forces is an error estimate
that needs no DFT. This script tests that estimate on held-out frames, follows it along MD at 300 K
and at 1000 K, and uses it to choose which frames to label (active learning) against choosing at random.
"""

from schnet_tutorial import tools  # isort: skip (first: it quiets a warning of SchNetPack's import)
import datetime
import hashlib
import importlib.util
import json
import time

import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import numpy as np
import schnetpack.transform as trn
from ase import units
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.singlepoint import SinglePointCalculator
from ase.constraints import FixCom
from ase.db import connect
from ase.io.trajectory import Trajectory
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta
from scipy.stats import spearmanr

from common.plotting import save_figure, show
from common.runs import ASE_CALCS_DIR, DATABASE, RESULTS_DIR, new_run_dir
from common.settings import check, check_writable, fail, setup
from schnet_tutorial import trainings

# %% Settings: edit these, or override them on the command line (--committee 8 --al-rounds 6)
COMMITTEE = 4  # models in the committee (different seeds and training frames)
N_TRAIN = 1000  # training frames of each committee member: its own random subset of the pool
STEPS = 3750  # optimizer steps per member (the minute's training: 30 epochs of 1,000 frames, batch 8)
N_TEST, N_VAL = 500, 200  # test frames; validation frames (every training keeps its best model on them)
SPLIT_SEED = 0  # which frames are test, validation and pool (the same split as script4's)
N_BINS = 10  # bins of the calibration curve, each with the same number of test frames
THRESHOLD_QUANTILE = 0.99  # MD frames more uncertain than this fraction of the test frames are flagged
TEMPERATURES_K = [300.0, 1000.0]  # Langevin MD with the committee at each of these temperatures (K)
MD_STEPS = 2000  # MD steps per temperature (2000 x 0.5 fs = 1 ps)
TIMESTEP_FS = 0.5  # MD time step (fs)
FRICTION_PER_FS = 0.01  # Langevin friction (1/fs)
TRAJ_INTERVAL = 5  # write every 5th MD step to the trajectory and the log
SEED = 0  # MD start frame, velocities and noise; the active-learning start sets (SEED, SEED + 1, ...)
AL_START = 50  # active learning: labelled frames at the start (random frames of the pool)
AL_BATCH = 50  # frames labelled per round
AL_ROUNDS = 3  # rounds: the last committees are trained on AL_START + AL_ROUNDS x AL_BATCH frames
AL_SEEDS = 2  # repeats of the whole comparison, from other random start sets
AL_STEPS = 2000  # optimizer steps of each active-learning training (fewer than STEPS: small sets)
RELABEL = 0  # > 0: label that many flagged frames of the hottest MD with PBE (PySCF) and retrain
N_WORKERS = 2  # trainings side by side, one CPU core each
FORCE = False  # True (--force): train again what the results folder already holds
setup(globals(), "script5_uncertainty")  # command-line overrides and checks

# %% 1 Data
# The frames script1 put into the database, split once (as in script4): N_TEST test frames that no
# model ever trains on, N_VAL validation frames on which every training keeps its best model, and a
# pool of the rest. Each committee member trains on its own random N_TRAIN frames of the pool; the
# active learning below treats the pool as unlabelled frames whose DFT labels it may ask for (here
# they are simply looked up: the pool is already labelled, so no new DFT is needed).
t_start = time.perf_counter()
folder = RESULTS_DIR / "script5_uncertainty"  # every training's model and result, reused by reruns
check_writable(folder.parent, ASE_CALCS_DIR)  # before the work: a read-only folder or a full disk
n_frames = tools.count_frames(DATABASE)  # (stops with one line if script1 has not made it)
pool_size = n_frames - N_TEST - N_VAL
check(pool_size > 0, f"N_TEST + N_VAL = {N_TEST + N_VAL} leaves no pool of the {n_frames} frames; lower them")
check(N_BINS <= N_TEST, f"N_BINS ({N_BINS}) must not exceed N_TEST ({N_TEST})")
check(
    N_TRAIN <= pool_size,
    f"N_TRAIN = {N_TRAIN} but {n_frames} frames less {N_TEST} test and {N_VAL} validation leave "
    f"{pool_size}; lower N_TRAIN, N_TEST or N_VAL",
)
al_end = AL_START + AL_ROUNDS * AL_BATCH
check(
    al_end <= pool_size,
    f"AL_START + AL_ROUNDS x AL_BATCH = {al_end} labels, but the pool has {pool_size} frames; lower them",
)
if RELABEL and importlib.util.find_spec("pyscf") is None:  # (before the work, not after it)
    fail("RELABEL > 0 needs PySCF: pip install -r requirements-dataset.txt (or set RELABEL = 0)")
test_idx, val_idx, pool = trainings.split(n_frames, N_TEST, N_VAL, SPLIT_SEED)
cutoff = trainings.DEFAULTS["cutoff"]  # Å
test_data, val_data, pool_data = tools.load_inputs(DATABASE, cutoff, test_idx, val_idx, pool)
n_atoms = len(test_data[0]["_atomic_numbers"])


def reference_forces(data):
    """The DFT forces of input dictionaries (eV/Å), shape (frames, atoms, 3)."""
    return np.array([d["forces"].numpy() for d in data])


f_test, f_val = reference_forces(test_data), reference_forces(val_data)
e_pool = np.array([d["energy"].item() for d in pool_data])  # eV
test_data, val_data, pool_data = [
    [trn.CastTo32()(d) for d in data] for data in (test_data, val_data, pool_data)
]
kcal = tools.EV_TO_KCAL_PER_MOL
print(f"{n_frames} frames of {n_atoms} atoms: {N_TEST} test, {N_VAL} validation, a pool of {pool_size}")


# %% 2 Model
# Slide 10's variance, put to use: models trained on different sets of equal size differ, most where
# the data are thin. The committee is COMMITTEE copies of the minute's SchNet (trainings.DEFAULTS,
# script2's model and training), each with its own seed (initial weights, batch order) and its own
# N_TRAIN frames of the pool. Its prediction is the mean of the members; its uncertainty is how much
# they disagree. As an ASE calculator (for MD) the committee runs each member's model (script3's fast
# calculator) at every step, moves the atoms with the mean forces and keeps the spread of the forces.
def training_frames(n, seed):
    return trainings.training_frames(pool, n, SPLIT_SEED, seed)


common = {"val_idx": val_idx, "test_idx": test_idx, "database": str(DATABASE)}
committee_jobs = {
    f"member {k}": {**common, "seed": k, "steps": STEPS, "train_idx": training_frames(N_TRAIN, k)}
    for k in range(COMMITTEE)
}


class Committee(Calculator):
    """The committee as one ASE calculator: the mean energy and forces of its members. After every
    calculation ``force_std`` holds the spread of the members' forces (eV/Å, per atom and component)."""

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, models, atoms):
        super().__init__()
        self.members = [tools.MoleculeCalculator(model, atoms) for model in models]
        self.force_std = None

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        for member in self.members:
            member.calculate(atoms)
        energies = np.array([member.results["energy"] for member in self.members])
        forces = np.array([member.results["forces"] for member in self.members])
        self.force_std = forces.std(axis=0, ddof=1)
        self.results = {
            "energy": energies.mean(),
            "free_energy": energies.mean(),
            "forces": forces.mean(axis=0),
        }


def committee_forces(model_folders, data):
    """The forces (eV/Å) of each member on input dictionaries: shape (members, frames, atoms, 3)."""
    forces = [tools.predict(tools.load_model(f), data)[1] for f in model_folders]
    return np.array(forces).reshape(len(model_folders), len(data), -1, 3)


print(f"committee: {COMMITTEE} x SchNet ({trainings.DEFAULTS['n_features']} features), {N_TRAIN} frames each")


# %% 3 Cost function
# Each member is trained on script2's cost: 0.01 x MSE of the energies (eV²) + 0.99 x MSE of the force
# components (eV²/Å²). What this script measures are two numbers per frame, both in kcal/mol/Å:
# - the committee's DISAGREEMENT: the standard deviation of the members' forces, per atom and
#   component, as a root mean square over the frame's 27 components (no DFT needed);
# - the TRUE ERROR of the committee's mean forces against DFT, as a root mean square over the same
#   27 components (needs the DFT label).
# If the disagreement is a useful warning, frames with a large one have large errors: the Spearman
# rank correlation (1 = the same order, 0 = none) measures that without assuming a straight line.
def disagreement(member_forces):
    """Per frame: RMS over atoms and components of the members' standard deviation (eV/Å)."""
    return np.sqrt(member_forces.var(axis=0, ddof=1).mean(axis=(-2, -1)))


def true_error(member_forces, reference):
    """Per frame: RMS over atoms and components of the committee mean's error (eV/Å)."""
    return np.sqrt(((member_forces.mean(axis=0) - reference) ** 2).mean(axis=(-2, -1)))


def force_mae(member_forces, reference):
    """Mean absolute error of the committee's mean force components (kcal/mol/Å)."""
    return float(np.abs(member_forces.mean(axis=0) - reference).mean() * kcal)


print(
    f"cost of each member: {trainings.DEFAULTS['energy_weight']} x MSE(energy) + "
    f"{trainings.DEFAULTS['force_weight']} x MSE(forces); measured: disagreement against true error"
)

# %% 4 Find the parameters
# The committee: COMMITTEE trainings of about a minute each, N_WORKERS side by side. Then active
# learning on the pool: start from AL_START random labelled frames and train a committee on them
# (AL_STEPS steps: small sets learn in fewer). Each round, the active strategy asks for the labels of
# the AL_BATCH unlabelled frames on which its committee disagrees most and trains a new committee;
# the random strategy adds AL_BATCH frames drawn at random. Both are scored on the same test frames,
# and AL_SEEDS repeats start from other random sets. Random choices need no model, so their
# committees of all rounds train at the start, with the committee; the active strategy has to wait
# for each round's committee before it can choose: active learning is sequential.
# Every finished training is kept under results/script5_uncertainty/ (model and test errors): a
# rerun reuses it and only trains what is new (FORCE = True trains again).
labels = {}  # (strategy, seed): the labelled frames after each round (positions in the pool)
for s in range(AL_SEEDS):
    start = np.random.default_rng([SEED, s]).choice(pool_size, AL_START, replace=False)
    labels["active", s], labels["random", s] = [start], [start]
    picker = np.random.default_rng([SEED, s, 1])
    for r in range(AL_ROUNDS):
        unlabelled = np.setdiff1d(np.arange(pool_size), labels["random", s][-1])
        labels["random", s].append(
            np.append(labels["random", s][-1], picker.choice(unlabelled, AL_BATCH, False))
        )
n_labels = [AL_START + r * AL_BATCH for r in range(AL_ROUNDS + 1)]


def al_jobs(strategy, s, r):
    """The committee of one strategy, seed and round: trained on its labels, seeds 0, 1, ..."""
    train_idx = np.sort(pool[labels[strategy, s][r]])
    return {(strategy, s, r, k): {**common, "seed": k, "steps": AL_STEPS, "train_idx": train_idx}
            for k in range(COMMITTEE)}  # fmt: skip


counts = {"reused": 0, "trained": 0}


def note(name, result, place, cached):
    counts["reused" if cached else "trained"] += 1
    if not cached:
        print(f"  trained {place.name}: test force MAE {result['force_mae_kcal_mol_A']:.3f} kcal/mol/Å, "
              f"{result['train_s']:.0f} s", flush=True)  # fmt: skip


def train(jobs):
    """Run the trainings (finished ones are reused); {name: model folder}."""
    trainings.run_all(jobs, folder, N_WORKERS, FORCE, say=note)
    return trainings.folders(jobs, folder)


jobs = dict(committee_jobs)
for s in range(AL_SEEDS):
    jobs.update(al_jobs("active", s, 0))  # (the same trainings as the random strategy's round 0)
    for r in range(AL_ROUNDS + 1):
        jobs.update(al_jobs("random", s, r))
n_jobs = len(set(trainings.folders(jobs, folder).values()))  # (round 0 is the same for both strategies)
print(f"the committee and the random strategy's committees: {n_jobs} trainings, {N_WORKERS} at a time")
t0 = time.perf_counter()
places = train(jobs)
members = [places[f"member {k}"] for k in range(COMMITTEE)]
member_mae = [trainings.load_result(f)["force_mae_kcal_mol_A"] for f in members]
print(f"done in {time.perf_counter() - t0:.0f} s; test force MAE of each committee member (kcal/mol/Å): "
      + ", ".join(f"{m:.3f}" for m in member_mae), flush=True)  # fmt: skip

predictions = {}  # (model folder, "test" or "pool") -> its forces: each model is predicted once


def predicted(model_folder, which):
    if (model_folder, which) not in predictions:
        data = test_data if which == "test" else pool_data
        predictions[model_folder, which] = committee_forces([model_folder], data)[0]
    return predictions[model_folder, which]


def committee_of(strategy, s, r):
    return [places[strategy, s, r, k] for k in range(COMMITTEE)]


curve = {key: {"mae": [], "worst": []} for key in labels}  # test errors after each round (kcal/mol/Å)
for r in range(AL_ROUNDS + 1):
    if r:  # the active strategy: the frames its last committee disagrees on most, then a new committee
        for s in range(AL_SEEDS):
            labelled = labels["active", s][-1]
            unlabelled = np.setdiff1d(np.arange(pool_size), labelled)
            spread = disagreement(
                np.array([predicted(f, "pool")[unlabelled] for f in committee_of("active", s, r - 1)])
            )
            labels["active", s].append(np.append(labelled, unlabelled[np.argsort(spread)[::-1][:AL_BATCH]]))
        places.update(train({k: v for s in range(AL_SEEDS) for k, v in al_jobs("active", s, r).items()}))
    for (strategy, s), errors in curve.items():
        forces = np.array([predicted(f, "test") for f in committee_of(strategy, s, r)])
        errors["mae"].append(force_mae(forces, f_test))
        errors["worst"].append(float(np.quantile(true_error(forces, f_test), 0.95) * kcal))
    mean = {st: np.mean([curve[st, s]["mae"][-1] for s in range(AL_SEEDS)]) for st in ("active", "random")}
    print(
        f"round {r}: {n_labels[r]} labels: test force MAE active {mean['active']:.3f}, random "
        f"{mean['random']:.3f} kcal/mol/Å (committee means, {AL_SEEDS} seeds); "
        f"{time.perf_counter() - t0:.0f} s",
        flush=True,
    )
print(f"trainings: {counts['trained']} trained, {counts['reused']} reused from {tools.shown(folder)}")

# %% 5 Look at the result
# First the test frames: the committee's disagreement against its true error, frame by frame, and
# the calibration curve: the frames sorted into N_BINS bins of growing disagreement, the RMS
# disagreement of each bin against its RMS true error. A calibrated estimate lies on the diagonal;
# committees are usually overconfident (the members share the same data and the same model, so they
# err together), and one scale factor, fitted on the validation frames, turns the disagreement into
# an error estimate. (The committee's mean forces are also more accurate than any of its members.)
run_dir = new_run_dir(folder, "run_" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))  # never overwritten
forces_test = committee_forces(members, test_data)
forces_val = committee_forces(members, val_data)
spread_test, error_test = disagreement(forces_test) * kcal, true_error(forces_test, f_test) * kcal
scale = float(np.sqrt(np.mean(true_error(forces_val, f_val) ** 2) / np.mean(disagreement(forces_val) ** 2)))
rho = float(spearmanr(spread_test, error_test)[0])
committee_mae = force_mae(forces_test, f_test)
threshold = float(np.quantile(spread_test, THRESHOLD_QUANTILE))  # kcal/mol/Å
order = np.argsort(spread_test)
bins = np.array_split(order, N_BINS)
bin_spread = np.array([np.sqrt(np.mean(spread_test[b] ** 2)) for b in bins])
bin_error = np.array([np.sqrt(np.mean(error_test[b] ** 2)) for b in bins])
print(
    f"test frames: committee force MAE {committee_mae:.3f} kcal/mol/Å (members {np.mean(member_mae):.3f} "
    f"on average); Spearman rho(disagreement, true error) = {rho:.2f}; the true error is {scale:.1f} x "
    f"the disagreement (fitted on the validation frames)"
)


def plain_log(axis):
    """A logarithmic axis labelled 0.5, 1, 2, 5 (not as powers of ten)."""
    axis.set_major_locator(ticker.LogLocator(subs=(1, 2, 5)))
    axis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    axis.set_minor_formatter(ticker.NullFormatter())


fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.8))
ax1.loglog(spread_test, error_test, ".", ms=4, alpha=0.6, label=f"{N_TEST} test frames")
lim = np.array(
    [min(spread_test.min(), error_test.min()) * 0.8, max(spread_test.max(), error_test.max()) * 1.2]
)
ax1.plot(lim, lim, "k--", lw=1, label="error = disagreement")
ax1.plot(lim, scale * lim, "k:", lw=1, label=f"error = {scale:.1f} x disagreement")
ax1.axvline(
    threshold, color="tab:red", lw=1, label=f"MD threshold ({THRESHOLD_QUANTILE:.0%} of test frames below)"
)
ax1.set(xlabel="committee disagreement (kcal/mol/Å)", ylabel="true error of the committee (kcal/mol/Å)",
        title=f"frame by frame: Spearman rho = {rho:.2f}")  # fmt: skip
plain_log(ax1.xaxis)
plain_log(ax1.yaxis)
ax1.legend(fontsize=8)
ax2.plot(bin_spread, bin_error, "o-", label="committee (raw)")
ax2.plot(scale * bin_spread, bin_error, "s-", label=f"disagreement x {scale:.1f} (validation fit)")
top = 1.1 * max(bin_error.max(), scale * bin_spread.max())
ax2.plot([0, top], [0, top], "k--", lw=1, label="calibrated")
ax2.set(xlim=(0, top), ylim=(0, top), title=f"calibration: {N_BINS} bins of test frames",
        xlabel="predicted error: RMS disagreement of the bin (kcal/mol/Å)",
        ylabel="observed RMS error of the bin (kcal/mol/Å)")  # fmt: skip
ax2.legend(fontsize=8)
fig.suptitle(f"A committee of {COMMITTEE} SchNet models: does its disagreement know its error?")
fig.tight_layout()
save_figure(fig, "uncertainty_calibration")
save_figure(fig, "uncertainty_calibration", run_dir)


# MD with the committee: Langevin at each of TEMPERATURES_K from the same test frame, driven by the
# mean forces, the disagreement recorded at every step. The training data come from a 500 K run: at
# 300 K the molecule stays among geometries like the data; hotter, it stretches bonds and bends
# angles further than any training frame, and the disagreement rises there. Frames above the threshold
# (more uncertain than THRESHOLD_QUANTILE of the test frames) are flagged: where a real active-learning
# loop would ask DFT for a label. A run that breaks the molecule stops with a warning; its steps up to
# there are kept and plotted. Each run writes its own trajectory and log (uncertainty_<T>K_<time>).
start_frame = int(np.random.default_rng(SEED).choice(test_idx))
start_atoms = connect(str(DATABASE), type="db", use_lock_file=False).get(id=start_frame + 1).toatoms()


def committee_md(models, temperature, threshold):
    """Langevin MD with the committee of ``models``: time (fs), potential energy (eV), disagreement
    (kcal/mol/Å), flagged steps and positions of every step, and why it stopped ("" if it did not)."""
    atoms = start_atoms.copy()
    atoms.set_constraint(FixCom())
    rng = np.random.default_rng(SEED)
    thermalize_momenta(atoms, temperature_K=temperature, exact_temperature=True, rng=rng)
    Stationary(atoms)
    ZeroRotation(atoms)
    atoms.calc = Committee(models, atoms)
    friction = FRICTION_PER_FS / units.fs
    dyn = Langevin(
        atoms, TIMESTEP_FS * units.fs, temperature_K=temperature, friction=friction, fixcm=False, rng=rng
    )
    traj_path, log_path = tools.new_md_files(ASE_CALCS_DIR, f"uncertainty_{temperature:g}K")
    steps = []  # time (fs), potential energy (eV), temperature (K), disagreement (kcal/mol/Å), positions (Å)
    with (
        Trajectory(str(traj_path), "w", atoms, properties=["energy", "forces"]) as traj,
        open(log_path, "w") as log,
    ):
        log.write(f"# script5_uncertainty.py: committee of {len(models)}, Langevin {temperature:g} K, "
                  f"start frame {start_frame}; flagged: disagreement > {threshold:.3f} kcal/mol/Å\n"
                  "# time_fs epot_eV temperature_K disagreement_kcal_mol_A flagged\n")  # fmt: skip

        def record():
            epot, sigma = (
                atoms.get_potential_energy(),
                float(np.sqrt(np.mean(atoms.calc.force_std**2))) * kcal,
            )
            steps.append(
                (dyn.get_time() / units.fs, epot, atoms.get_temperature(), sigma, atoms.positions.copy())
            )
            if dyn.nsteps % TRAJ_INTERVAL == 0:
                traj.write()
                log.write(
                    f"{steps[-1][0]:.1f} {epot:.5f} {steps[-1][2]:.1f} {sigma:.4f} {int(sigma > threshold)}\n"
                )

        dyn.attach(tools.StabilityMonitor(atoms, dyn), interval=1)
        dyn.attach(record, interval=1)
        try:
            dyn.run(MD_STEPS)
            stopped = ""
        except tools.MDBlowUpError as exc:
            stopped = str(exc)
            log.write(f"# STOPPED: {exc}\n")
            tools.warn(f"the {temperature:g} K run stopped: {exc}; the {len(steps)} steps before are kept")
    t_fs, epot, temps, sigma = (np.array([step[i] for step in steps]) for i in range(4))
    positions = np.array([step[4] for step in steps])
    return {"t_fs": t_fs, "epot": epot, "temperature": temps, "sigma": sigma, "flagged": sigma > threshold,
            "positions": positions, "stopped": stopped, "traj": traj_path}  # fmt: skip


models = [tools.load_model(f) for f in members]
md = {}
for temperature in TEMPERATURES_K:
    t0 = time.perf_counter()
    md[temperature] = run = committee_md(models, temperature, threshold)
    print(
        f"MD {temperature:g} K: {len(run['t_fs']) - 1} steps in {time.perf_counter() - t0:.0f} s, mean "
        f"temperature {run['temperature'].mean():.0f} K; disagreement median {np.median(run['sigma']):.2f}, "
        f"max {run['sigma'].max():.2f} kcal/mol/Å; {run['flagged'].mean():.1%} of the steps flagged; "
        f"{tools.shown(run['traj'])}"
    )

# The figure. Top: the disagreement along each run, the threshold, flagged steps in red. Bottom:
# the same steps against their potential energy (the committee's, relative to the mean energy of
# the training pool), over the energies of the pool's frames (grey histogram): the data the models
# learned from. The disagreement grows where the pool thins out, and most where a step is higher in
# energy than nearly every training frame: there the model is outside its data.
colors = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown")
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 8), height_ratios=(1, 1.1))
e_mean = e_pool.mean()
histogram = ax2.twinx()
histogram.hist((e_pool - e_mean) * kcal, bins=30, color="0.85", label=f"training pool ({pool_size} frames)")
histogram.set_ylabel("pool frames per bin")
ax2.set_zorder(histogram.get_zorder() + 1)  # the MD steps in front of the histogram
ax2.patch.set_visible(False)
for (temperature, run), color in zip(md.items(), colors):
    label = f"{temperature:g} K: {run['flagged'].mean():.0%} flagged" + (
        " (stopped)" if run["stopped"] else ""
    )
    ax1.plot(run["t_fs"], run["sigma"], lw=0.8, color=color, label=label)
    ax1.plot(run["t_fs"][run["flagged"]], run["sigma"][run["flagged"]], ".", ms=3, color="tab:red")
    if run["stopped"]:
        ax1.axvline(run["t_fs"][-1], color=color, ls=":")
    ax2.plot((run["epot"] - e_mean) * kcal, run["sigma"], ".", ms=2, color=color, alpha=0.5,
             label=f"{temperature:g} K, every step")  # fmt: skip
for ax in (ax1, ax2):
    ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"threshold {threshold:.2f}")
    ax.set(yscale="log", ylabel="committee disagreement (kcal/mol/Å)")
    plain_log(ax.yaxis)
ax1.set(xlabel="time (fs)", title="along the runs (flagged steps in red)")
ax1.legend(fontsize=8, loc="upper left", ncol=3)
ax2.set(xlabel="potential energy of the step - mean energy of the pool (kcal/mol)",
        title="against the energy: where are the training data?")  # fmt: skip
handles = ax2.get_legend_handles_labels()
extra = histogram.get_legend_handles_labels()
ax2.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=8, loc="upper left", markerscale=4)
fig.suptitle(f"MD with the committee from test frame {start_frame}: where does the model leave its data?")
fig.tight_layout()
save_figure(fig, "uncertainty_md")
save_figure(fig, "uncertainty_md", run_dir)

# Active learning against random choice, each seed as a thin line, their mean as the thick one.
# Left: the committee-mean test force error against the number of labels. Middle: the error of the
# worst test frames (the 95th percentile of the frames' RMS force errors). Right: which frames each
# strategy labelled: the energies of its frames after the last round (all seeds) against the pool's.
mean_of = {(st, key): np.mean([curve[st, s][key] for s in range(AL_SEEDS)], axis=0)
           for st in ("active", "random") for key in ("mae", "worst")}  # fmt: skip
active_mae, random_mae = mean_of["active", "mae"], mean_of["random", "mae"]
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
for strategy, color in (("active", "tab:red"), ("random", "tab:blue")):
    for ax, key in zip(axes, ("mae", "worst")):
        for s in range(AL_SEEDS):
            ax.plot(n_labels, curve[strategy, s][key], color=color, lw=0.7, alpha=0.5)
        mean = mean_of[strategy, key]
        ax.plot(
            n_labels,
            mean,
            "o-",
            color=color,
            lw=2,
            label=f"{strategy}: {mean[-1]:.2f} at {n_labels[-1]} labels",
        )
axes[0].axhline(
    committee_mae, color="gray", ls=":", label=f"the committee ({N_TRAIN} frames each): {committee_mae:.2f}"
)
axes[0].set(ylabel="test force MAE (kcal/mol/Å)", title="committee-mean test force error")
axes[1].set(ylabel="95th percentile of frame errors (kcal/mol/Å)", title="the worst 5% of the test frames")
for ax in axes[:2]:
    ax.set(xlabel="labelled frames")
    ax.legend(fontsize=8)
edges = np.linspace((e_pool.min() - e_mean) * kcal, (e_pool.max() - e_mean) * kcal, 30)
axes[2].hist(
    (e_pool - e_mean) * kcal, bins=edges, density=True, color="0.8", label=f"pool ({pool_size} frames)"
)
for strategy, color in (("active", "tab:red"), ("random", "tab:blue")):
    chosen = np.concatenate([labels[strategy, s][-1] for s in range(AL_SEEDS)])
    label = f"{strategy}: {n_labels[-1]} labels x {AL_SEEDS} seeds"
    axes[2].hist(
        (e_pool[chosen] - e_mean) * kcal, edges, density=True, histtype="step", lw=2, color=color, label=label
    )
axes[2].set(
    xlabel="energy - pool mean (kcal/mol)", ylabel="frames (normalised)", title="which frames were labelled"
)
axes[2].legend(fontsize=8)
fig.suptitle(
    f"Active learning against random choice: committees of {COMMITTEE}, {AL_STEPS} steps per training"
)
fig.tight_layout()
save_figure(fig, "active_learning")
save_figure(fig, "active_learning", run_dir)
print("committee-mean test force MAE and the worst 5% of test frames (kcal/mol/Å), mean over the seeds:")
for r, n in enumerate(n_labels):
    print(
        f"  {n:5d} labels: MAE active {active_mae[r]:.3f}, random {random_mae[r]:.3f}; worst 5% active "
        f"{mean_of['active', 'worst'][r]:.3f}, random {mean_of['random', 'worst'][r]:.3f}"
    )

# Optional: real active learning on your own machine (RELABEL > 0; needs requirements-dataset.txt).
# RELABEL flagged steps of the hottest run, spread over the run, are labelled with the data set's
# own PBE/def2-SVP calculation (make_ethanol_dataset.py, PySCF), added to every member's training
# frames, and the committee is trained again. The labels show how wrong the committee really was
# there; a new run at that temperature shows how much of it is still flagged afterwards.
relabel = {}
hot_t = max(md)
candidates = np.flatnonzero(md[hot_t]["flagged"])
if RELABEL and len(candidates) == 0:
    tools.warn(f"no step of the {hot_t:g} K run was flagged: nothing to label (lower THRESHOLD_QUANTILE)")
if RELABEL and len(candidates):
    from schnet_tutorial.make_ethanol_dataset import pbe_energy_forces

    chosen = candidates[np.unique(np.linspace(0, len(candidates) - 1, RELABEL).round().astype(int))]
    positions = md[hot_t]["positions"][chosen]
    digest = hashlib.sha1(np.round(positions, 6).tobytes()).hexdigest()[:8]
    label_file = folder / f"pbe_labels_{digest}.npz"  # kept: a rerun does not label the same frames again
    if label_file.is_file():
        saved = np.load(label_file)
        e_new, f_new, label_s = saved["energies"], saved["forces"], float(saved["seconds"])
        print(f"PBE labels of {len(positions)} flagged frames reused from {tools.shown(label_file)}")
    else:
        print(f"labelling {len(positions)} flagged frames with PBE/def2-SVP (PySCF) ...", flush=True)
        t0 = time.perf_counter()
        symbols = start_atoms.get_chemical_symbols()
        e_new, f_new = map(np.array, zip(*[pbe_energy_forces(symbols, p) for p in positions]))
        label_s = time.perf_counter() - t0
        np.savez(folder / f"pbe_labels_{digest}.tmp.npz", energies=e_new, forces=f_new, seconds=label_s)
        (folder / f"pbe_labels_{digest}.tmp.npz").replace(label_file)
    print(f"PBE/def2-SVP: {label_s / len(positions):.1f} s per frame on this machine ({label_s:.0f} s)")

    before = Committee(models, start_atoms)  # the committee's error on the frames it flagged
    flagged_atoms = [start_atoms.copy() for _ in positions]
    for atoms, p in zip(flagged_atoms, positions):
        atoms.positions = p
    error_before = [
        np.sqrt(np.mean((before.get_forces(a) - f) ** 2)) * kcal for a, f in zip(flagged_atoms, f_new)
    ]
    db_new = folder / f"relabelled_{digest}.db"  # script1's frames and the new ones after them
    stamp = {"source": str(DATABASE), "added_frames": digest}
    if not tools.database_is_current(db_new, stamp):
        energies, forces, per_frame = tools.read_energies_forces(DATABASE)
        frames = []
        for k, row in enumerate(connect(str(DATABASE), type="db", use_lock_file=False).select()):
            atoms = row.toatoms()
            atoms.calc = SinglePointCalculator(
                atoms, energy=energies[k], forces=forces[k * per_frame : (k + 1) * per_frame]
            )
            frames.append(atoms)
        for atoms, energy, f in zip(flagged_atoms, e_new, f_new):
            atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=f)
            frames.append(atoms)
        tools.build_database(frames, db_new)
        tools.write_stamp(db_new, stamp)
    added = n_frames + np.arange(len(positions))  # their indices in the new database
    jobs = {
        f"relabelled member {k}": {
            **job,
            "database": str(db_new),
            "train_idx": np.concatenate([job["train_idx"], added]),
        }
        for k, job in enumerate(committee_jobs.values())
    }
    print(f"training the committee again with the {len(positions)} new frames ...", flush=True)
    new_members = list(train(jobs).values())
    new_forces = committee_forces(new_members, test_data)
    new_threshold = float(np.quantile(disagreement(new_forces) * kcal, THRESHOLD_QUANTILE))
    new_run = committee_md([tools.load_model(f) for f in new_members], hot_t, new_threshold)
    relabel = {
        "frames": len(positions), "seconds_per_frame": label_s / len(positions),
        "error_before_kcal_mol_A": float(np.mean(error_before)),
        "disagreement_before_kcal_mol_A": float(np.mean(md[hot_t]["sigma"][chosen])),
        "test_force_mae_after_kcal_mol_A": force_mae(new_forces, f_test),
        "flagged_before_percent": float(md[hot_t]["flagged"].mean() * 100),
        "flagged_after_percent": float(new_run["flagged"].mean() * 100),
    }  # fmt: skip
    print(
        f"on the {len(positions)} flagged frames the committee's true RMS force error was "
        f"{relabel['error_before_kcal_mol_A']:.2f} kcal/mol/Å where it disagreed by "
        f"{relabel['disagreement_before_kcal_mol_A']:.2f} (on the test frames: error "
        f"{np.sqrt(np.mean(error_test**2)):.2f}). "
        f"Retrained: test force MAE {committee_mae:.3f} -> "
        f"{relabel['test_force_mae_after_kcal_mol_A']:.3f} kcal/mol/Å; flagged at {hot_t:g} K: "
        f"{relabel['flagged_before_percent']:.1f}% -> {relabel['flagged_after_percent']:.1f}% of the steps"
        + (f" (the new run stopped: {new_run['stopped']})" if new_run["stopped"] else "")
    )

summary = {
    "settings": {name: globals()[name] for name in ("COMMITTEE", "N_TRAIN", "STEPS", "N_TEST", "N_VAL",
                 "SPLIT_SEED", "THRESHOLD_QUANTILE", "TEMPERATURES_K", "MD_STEPS", "SEED", "AL_START",
                 "AL_BATCH", "AL_ROUNDS", "AL_SEEDS", "AL_STEPS", "RELABEL")},
    "spearman_rho": rho, "scale_error_over_disagreement": scale, "threshold_kcal_mol_A": threshold,
    "committee_force_mae_kcal_mol_A": committee_mae, "member_force_mae_kcal_mol_A": member_mae,
    "calibration": {"disagreement_kcal_mol_A": bin_spread.tolist(), "error_kcal_mol_A": bin_error.tolist()},
    "md": {f"{t:g}K": {"steps": len(r["t_fs"]) - 1, "flagged_percent": float(r["flagged"].mean() * 100),
                       "stopped": r["stopped"], "trajectory": str(r["traj"])} for t, r in md.items()},
    "active_learning": {"labels": n_labels, **{f"{st}_seed{s}": curve[st, s] for st, s in curve}},
    "relabel": relabel, "trainings": counts, "total_s": time.perf_counter() - t_start,
}  # fmt: skip
(run_dir / "results.json").write_text(json.dumps(summary, indent=1, default=float), encoding="utf-8")
print(f"this run's figures and numbers: {tools.shown(run_dir)}; total {time.perf_counter() - t_start:.0f} s")
show()
worst = {st: mean_of[st, "worst"][-1] for st in ("active", "random")}
line = f"spearman_rho={rho:.2f} active_force_mae_kcal_mol_A={active_mae[-1]:.3f} random_force_mae_kcal_mol_A="
line += f"{random_mae[-1]:.3f} labels={n_labels[-1]} active_worst5_kcal_mol_A={worst['active']:.3f} "
line += f"random_worst5_kcal_mol_A={worst['random']:.3f} committee_force_mae_kcal_mol_A={committee_mae:.3f}"
line += "".join(f" flagged_{t:g}K_percent={r['flagged'].mean() * 100:.1f}" for t, r in md.items())
if relabel:
    line += f" relabelled_flagged_{max(md):g}K_percent={relabel['flagged_after_percent']:.1f}"
print(f"result: {line}")
