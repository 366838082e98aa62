"""script5_uncertainty.py: "When can I trust my force field?" (beyond the slides).

A force field gives no warning when it meets a geometry unlike its training data. A committee of
models, trained from different seeds on different subsets of the data, agrees where the data taught
them the same thing and disagrees where it did not: the spread of their forces is an error estimate
that needs no DFT. This lesson tests that estimate on held-out frames (does a larger disagreement
mean a larger error? by how much?) and follows it along MD at 300 K and at 1000 K, where the
molecule leaves the geometries it was trained on. script6 uses it to choose which frames to label.
"""

from schnet_tutorial.helpers import committee  # isort: skip (first: it quiets SchNetPack's import)
import time

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import spearmanr

from common.plotting import plain_log_labels, save_figure, show
from common.runs import ASE_CALCS_DIR, DATABASE, RESULTS_DIR
from common.settings import check, check_writable, setup
from schnet_tutorial.helpers import dataset, pipeline, record, workers
from schnet_tutorial.helpers.model_files import shown

# %% Settings: edit these, or override them on the command line (--committee 8 --md-steps 4000)
COMMITTEE = 4  # models in the committee (different seeds and training frames)
N_TRAIN = 1000  # training frames of each committee member: its own random subset of the pool
STEPS = 3750  # optimizer steps per member (30 epochs of 1,000 frames, batch 8)
N_TEST = 500  # test frames: no model ever trains on them
N_VAL = 200  # validation frames: every training keeps its best model on them
SPLIT_SEED = 0  # which frames are test, validation and pool (the same split as script4's)
N_BINS = 10  # bins of the calibration curve, each with the same number of test frames
THRESHOLD_QUANTILE = 0.99  # MD steps more uncertain than this fraction of the test frames are flagged
TEMPERATURES_K = [300.0, 1000.0]  # Langevin MD with the committee at each of these temperatures (K)
MD_STEPS = 2000  # MD steps per temperature (2000 x 0.5 fs = 1 ps)
TIMESTEP_FS = 0.5  # MD time step (fs)
FRICTION_PER_FS = 0.01  # Langevin friction (1/fs)
TRAJ_INTERVAL = 5  # write every 5th MD step to the trajectory and the log
SEED = 0  # the MD's start frame (a test frame), velocities and noise
FORCE = False  # True (--force): train again what the results folder already holds
# Hardware
N_WORKERS = 2  # trainings side by side, one CPU core each
setup(globals(), "script5_uncertainty")  # command-line overrides and checks

# %% 1 Data
# The frames script1 put into the database, split as in script4 (dataset.split): N_TEST test frames
# that no model ever trains on, N_VAL validation frames on which every training keeps its best
# model, and a pool of the rest. Each committee member trains on its own N_TRAIN frames of the
# pool (draw k of the split: member k's shuffle of the pool).
t_start = time.perf_counter()
folder = RESULTS_DIR / "script5_uncertainty"  # every training's model and result, reused by reruns
check_writable(folder.parent, ASE_CALCS_DIR)  # before the work: a read-only folder or a full disk
check(N_TEST > 0, "N_TEST must be at least 1 here: every member is tested on the same N_TEST frames, which "
      "no member trains on (0 would take them from the pool the members train on)")  # fmt: skip
check(N_BINS <= N_TEST, f"N_BINS ({N_BINS}) must not exceed N_TEST ({N_TEST})")
n_frames = dataset.count_frames(DATABASE)  # (stops with one line if script1 has not made it)
splits = [dataset.split(n_frames, N_TRAIN, N_VAL, N_TEST, SPLIT_SEED, draw=k) for k in range(COMMITTEE)]
_, val_idx, test_idx = splits[0]  # the same for every member
test_data, val_data = dataset.load_inputs(DATABASE, pipeline.DEFAULTS["CUTOFF"], test_idx, val_idx)
f_test, f_val = committee.reference_forces(test_data), committee.reference_forces(val_data)
energies = dataset.read_energies_forces(DATABASE)[0]  # eV, every frame
e_pool = np.delete(energies, np.concatenate([test_idx, val_idx]))  # the frames the members train on
print(f"{n_frames} frames: {N_TEST} test, {N_VAL} validation, a pool of {len(e_pool)}; {N_TRAIN} per member")

# %% 2 Model
# Slide 10's variance, put to use: models trained on different sets of equal size differ, most where
# the data are thin. The committee is COMMITTEE copies of the slides' SchNet (script2's pipeline
# with 64 features and the MSE cost, pipeline.SCHNET_SLIDES), each with its own seed (initial
# weights, batch order) and its own training frames. Its prediction is the mean of the members; its
# uncertainty is how much they disagree. For MD it is one ASE calculator: SchNetPack's
# SpkEnsembleCalculator runs every member at every step, moves the atoms with the mean forces and
# keeps the disagreement (committee.calculator).
jobs = {
    f"member {k}": workers.job(*splits[k], STEPS, seed=k, **pipeline.SCHNET_SLIDES) for k in range(COMMITTEE)
}
print(
    f"committee: {COMMITTEE} x SchNet ({pipeline.SCHNET_SLIDES['N_FEATURES']} features), {STEPS} steps each"
)

# %% 3 Cost function
# Each member is trained on the slides' cost: 0.01 x MSE of the energies (eV²) + 0.99 x MSE of the force
# components (eV²/Å²). What this lesson measures are two numbers per frame, both in kcal/mol/Å:
# - the committee's DISAGREEMENT (SchNetPack's AbsoluteUncertainty): the members' standard deviation
#   of every force component, as a length per atom, averaged over the 9 atoms. No DFT needed.
#   (RelativeUncertainty divides it by the size of the force: large forces may err more.)
# - the TRUE ERROR of the committee's mean forces against DFT, measured the same way: the length of
#   each atom's force error, averaged over the atoms. It needs the DFT label.
# If the disagreement is a useful warning, frames with a large one have large errors: the Spearman
# rank correlation (1 = the same order, 0 = none) measures that without assuming a straight line.
kcal = dataset.EV_TO_KCAL_PER_MOL
print("measured on every frame: the committee's disagreement and its true error (kcal/mol/Å)")

# %% 4 Find the parameters
# COMMITTEE trainings of about a minute each, N_WORKERS side by side. Every finished training is
# kept under results/script5_uncertainty/ (model and test errors): a rerun reuses it and only trains
# what is new (FORCE = True trains again). Then the committee predicts the test and validation frames.
print(f"training the committee, {N_WORKERS} at a time:", flush=True)
members = list(committee.train(jobs, folder, N_WORKERS, FORCE).values())
print(committee.trainings_done(folder))
forces_test = committee.member_forces(members, test_data)  # (members, frames, atoms, 3), eV/Å
forces_val = committee.member_forces(members, val_data)
member_mae = [committee.force_mae(f[None], f_test) for f in forces_test]

# %% 5 Look at the result
# First the test frames: the committee's disagreement against its true error, frame by frame, and
# the calibration curve: the frames sorted into N_BINS bins of growing disagreement, the RMS
# disagreement of each bin against its RMS true error. A calibrated estimate lies on the diagonal;
# committees are usually overconfident (the members share the same data and the same model, so they
# err together), and one scale factor, fitted on the validation frames, turns the disagreement into
# an error estimate. (The committee's mean forces are also more accurate than any of its members.)
run_dir = record.new_run(folder)  # this run's figures and numbers: never overwritten
spread = committee.disagreement(forces_test) * kcal
error = committee.true_error(forces_test, f_test) * kcal
spread_val, error_val = committee.disagreement(forces_val), committee.true_error(forces_val, f_val)
scale = float(np.sqrt(np.mean(error_val**2) / np.mean(spread_val**2)))
rho = float(spearmanr(spread, error)[0])
committee_mae = committee.force_mae(forces_test, f_test)
threshold = float(np.quantile(spread, THRESHOLD_QUANTILE))  # kcal/mol/Å
bins = np.array_split(np.argsort(spread), N_BINS)
bin_spread = np.array([np.sqrt(np.mean(spread[b] ** 2)) for b in bins])
bin_error = np.array([np.sqrt(np.mean(error[b] ** 2)) for b in bins])
print(
    f"test frames: committee force MAE {committee_mae:.3f} kcal/mol/Å (members {np.mean(member_mae):.3f} "
    f"on average); Spearman rho(disagreement, true error) = {rho:.2f}; the true error is {scale:.1f} x "
    "the disagreement (fitted on the validation frames)"
)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
ax1.loglog(spread, error, ".", ms=4, alpha=0.6, label=f"{N_TEST} test frames")
lim = np.array([min(spread.min(), error.min()) * 0.8, max(spread.max(), error.max()) * 1.2])
ax1.plot(lim, lim, "k--", lw=1, label="error = disagreement")
ax1.plot(lim, scale * lim, "k:", lw=1, label=f"error = {scale:.1f} x disagreement")
ax1.axvline(
    threshold, color="tab:red", lw=1, label=f"MD threshold ({THRESHOLD_QUANTILE:.0%} of test frames below)"
)
ax1.set(
    xlabel="committee disagreement (kcal/mol/Å)",
    ylabel="true error of the committee (kcal/mol/Å)",
    title=f"frame by frame: Spearman rho = {rho:.2f}",
)
for axis in (ax1.xaxis, ax1.yaxis):
    plain_log_labels(axis)
ax1.legend(fontsize=9)
ax2.plot(bin_spread, bin_error, "o-", label="committee (raw)")
ax2.plot(scale * bin_spread, bin_error, "s-", label=f"disagreement x {scale:.1f} (validation fit)")
top = 1.1 * max(bin_error.max(), scale * bin_spread.max())
ax2.plot([0, top], [0, top], "k--", lw=1, label="calibrated")
ax2.set(
    xlim=(0, top),
    ylim=(0, top),
    title=f"calibration: {N_BINS} bins of test frames",
    xlabel="predicted error: RMS disagreement of the bin (kcal/mol/Å)",
    ylabel="observed RMS error of the bin (kcal/mol/Å)",
)
ax2.legend(fontsize=9)
fig.suptitle(f"A committee of {COMMITTEE} SchNet models: does its disagreement know its error?")
save_figure(fig, "uncertainty_calibration")
save_figure(fig, "uncertainty_calibration", run_dir)

# MD with the committee: Langevin at each of TEMPERATURES_K from the same test frame, driven by the
# mean forces, the disagreement recorded at every step. The training data come from a 500 K run: at
# 300 K the molecule stays among geometries like the data; hotter, it stretches bonds and bends
# angles further than any training frame, and the disagreement rises there. Steps above the threshold
# (more uncertain than THRESHOLD_QUANTILE of the test frames) are flagged: where an active-learning
# loop would ask DFT for a label (script6). A run that breaks the molecule stops with a warning; its
# steps up to there are kept and plotted. Each run writes its own trajectory and log (ase_calcs/).
start, start_index = committee.start_frame(DATABASE, test_idx, SEED)
calc = committee.calculator(members)
runs = {}
for temperature in TEMPERATURES_K:
    runs[temperature] = run = committee.run_md(
        calc,
        start,
        temperature,
        MD_STEPS,
        TIMESTEP_FS,
        FRICTION_PER_FS,
        threshold / kcal,
        ASE_CALCS_DIR,
        SEED,
        TRAJ_INTERVAL,
    )
    run["sigma"] = run["sigma"] * kcal
    print(
        f"MD {temperature:g} K: {len(run['t_fs']) - 1} steps in {run['seconds']:.0f} s, mean temperature "
        f"{run['temperature'].mean():.0f} K; disagreement median {np.median(run['sigma']):.2f}, max "
        f"{run['sigma'].max():.2f} kcal/mol/Å; {run['flagged'].mean():.1%} of the steps flagged; "
        f"{shown(run['traj'])}"
    )

# The figure. Top: the disagreement along each run, the threshold, flagged steps in red. Bottom:
# the same steps against their potential energy (relative to the mean energy of the training pool),
# over the energies of the pool's frames (grey histogram): the data the models learned from. The
# disagreement grows where the pool thins out, and most where a step is higher in energy than nearly
# every training frame: there the model is outside its data.
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 8), height_ratios=(1, 1.1), layout="constrained")
e_mean = e_pool.mean()
histogram = ax2.twinx()
histogram.hist((e_pool - e_mean) * kcal, bins=30, color="0.85", label=f"training pool ({len(e_pool)} frames)")
histogram.set_ylabel("pool frames per bin")
ax2.set_zorder(histogram.get_zorder() + 1)  # the MD steps in front of the histogram
ax2.patch.set_visible(False)
for (temperature, run), color in zip(runs.items(), ("tab:blue", "tab:orange", "tab:green", "tab:purple")):
    stopped = " (stopped)" if run["stopped"] else ""
    ax1.plot(
        run["t_fs"],
        run["sigma"],
        lw=0.8,
        color=color,
        label=f"{temperature:g} K: {run['flagged'].mean():.0%} flagged{stopped}",
    )
    ax1.plot(run["t_fs"][run["flagged"]], run["sigma"][run["flagged"]], ".", ms=3, color="tab:red")
    ax2.plot(
        (run["epot"] - e_mean) * kcal,
        run["sigma"],
        ".",
        ms=2,
        color=color,
        alpha=0.5,
        label=f"{temperature:g} K, every step",
    )
for ax in (ax1, ax2):
    ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"threshold {threshold:.2f}")
    ax.set(yscale="log", ylabel="committee disagreement (kcal/mol/Å)")
    plain_log_labels(ax.yaxis)
ax1.set(xlabel="time (fs)", title="along the runs (flagged steps in red)")
ax1.legend(fontsize=8, loc="upper left", ncol=3)
ax2.set(
    xlabel="potential energy of the step - mean energy of the pool (kcal/mol)",
    title="against the energy: where are the training data?",
)
handles, labels = (
    a + b for a, b in zip(ax2.get_legend_handles_labels(), histogram.get_legend_handles_labels())
)
ax2.legend(handles, labels, fontsize=8, loc="upper left", markerscale=4)
fig.suptitle(f"MD with the committee from test frame {start_index}: where does the model leave its data?")
save_figure(fig, "uncertainty_md")
save_figure(fig, "uncertainty_md", run_dir)
show()

result = {
    "spearman_rho": round(rho, 2),
    "committee_force_mae_kcal_mol_A": committee_mae,
    "member_force_mae_kcal_mol_A": float(np.mean(member_mae)),
    "error_over_disagreement": round(scale, 2),
    "threshold_kcal_mol_A": threshold,
}
result.update({f"flagged_{t:g}K_percent": round(r["flagged"].mean() * 100, 1) for t, r in runs.items()})
result["total_s"] = round(time.perf_counter() - t_start)
md_runs = {
    f"{t:g}K": {"steps": len(r["t_fs"]) - 1, "stopped": r["stopped"], "trajectory": r["traj"]}
    for t, r in runs.items()
}
calibration = {"disagreement_kcal_mol_A": bin_spread, "error_kcal_mol_A": bin_error}
record.finish(run_dir, result, {"calibration": calibration, "md": md_runs, "trainings": committee.counts})

# %% Exercises
# Worked answers: solutions/script5_uncertainty.py (run it, or read it on the lesson's page).
#
# 1. (read the figure) In uncertainty_calibration.png and the printout: is the committee over- or
#    underconfident (does its raw curve lie above or below the diagonal), and by what factor? Does the
#    committee's mean force beat its average member?
# 2. (predict, then run) ``--temperatures-k 300 600 1000`` (the trainings are reused). Before you run:
#    what percentage of the 600 K steps will be flagged: nearer that of 300 K or of 1000 K? Why?
# 3. (write code) A committee of two against four (and eight, after ``--committee 8``): from the members'
#    models in results/script5_uncertainty/, compute the committee's test force MAE and the Spearman rho
#    of disagreement and true error for its first 1, 2, 4 (8) members. What does each doubling buy?
