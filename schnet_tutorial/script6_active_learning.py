"""script6_active_learning.py: "Which frames should I label next?" (beyond the slides).

DFT labels are the expensive part of a force field. script5 showed that a committee's disagreement
warns where its error is large; here it chooses the frames to label: start from a few labelled
frames, train a committee, ask for the labels of the frames it disagrees on most, train again.
Against the same number of frames drawn at random, does it learn faster? Optionally (RELABEL > 0)
the loop runs for real: the committee's own MD visits geometries no data set holds, the flagged ones
are labelled with PBE by the data generator's own PySCF calculation, and the committee trains again.
"""

from schnet_tutorial.helpers import committee  # isort: skip (first: it quiets SchNetPack's import)
import importlib.util
import time

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from common.plotting import save_figure, show
from common.runs import ASE_CALCS_DIR, DATABASE, RESULTS_DIR
from common.settings import check, check_writable, fail, quick_settings, setup, warn
from schnet_tutorial.helpers import dataset, pipeline, record, workers

# %% Settings: edit these, or override them on the command line (--al-rounds 6 --n-seeds 3)
COMMITTEE = 4  # models per committee (the same frames, different seeds)
AL_START = 50  # labelled frames at the start (random frames of the pool)
AL_BATCH = 50  # frames labelled per round
AL_ROUNDS = 3  # rounds: the last committees are trained on AL_START + AL_ROUNDS x AL_BATCH frames
N_SEEDS = 2  # repeats of the whole comparison, from other random start sets
STEPS = 2000  # optimizer steps of each training (fewer than script5's 3,750: small sets learn faster)
N_TEST = 500  # test frames: no model ever trains on them
N_VAL = 200  # validation frames: every training keeps its best model on them
SPLIT_SEED = 0  # which frames are test, validation and pool (the same split as script4's and script5's)
RELABEL = 0  # > 0: label that many flagged frames of a committee MD with PBE (PySCF) and train again
TEMPERATURE_K = 1000.0  # the temperature of that MD (K): hot, to leave the data
MD_STEPS = 2000  # its MD steps (2000 x 0.5 fs = 1 ps)
TIMESTEP_FS = 0.5  # its time step (fs)
FRICTION_PER_FS = 0.01  # its Langevin friction (1/fs)
THRESHOLD_QUANTILE = 0.99  # MD steps more uncertain than this fraction of the test frames are flagged
SEED = 0  # the MD's start frame and velocities
FORCE = False  # True (--force): train again what the results folder already holds
# Hardware
N_WORKERS = 2  # trainings side by side, one CPU core each
setup(globals(), "script6_active_learning")  # command-line overrides and checks

# %% 1 Data
# The split of script4 and script5 (dataset.split): N_TEST test frames, N_VAL validation frames, and a
# pool of the rest. Here the pool plays the unlabelled frames: a strategy may ask for the DFT label
# of any pool frame (the labels are simply looked up: no new DFT is needed). Each repeat s starts
# from the first AL_START frames of the pool's shuffle number s; the random strategy then takes the
# next frames of that shuffle, AL_BATCH per round (dataset.split's nested training sets).
t_start = time.perf_counter()
folder = RESULTS_DIR / "script6_active_learning"  # every training's model and result, reused by reruns
check_writable(folder.parent, ASE_CALCS_DIR)  # before the work: a read-only folder or a full disk
if RELABEL and importlib.util.find_spec("pyscf") is None:  # (before the work, not after it)
    fail("RELABEL > 0 needs PySCF: pip install -r requirements-dataset.txt (or set RELABEL = 0)")
check(N_TEST > 0, "N_TEST must be at least 1 here: both strategies are scored on the same N_TEST frames, "
      "which no committee trains on (0 would leave no test frames outside the pool)")  # fmt: skip
n_frames = dataset.count_frames(DATABASE)  # (stops with one line if script1 has not made it)
n_labels = [AL_START + r * AL_BATCH for r in range(AL_ROUNDS + 1)]
check(
    n_labels[-1] + N_VAL + N_TEST < n_frames,
    f"AL_START + AL_ROUNDS x AL_BATCH = {n_labels[-1]} labels, but {n_frames} frames less {N_TEST} test "
    f"and {N_VAL} validation leave fewer; lower them",
)
pool, val_idx, test_idx = dataset.split(n_frames, n_frames - N_VAL - N_TEST, N_VAL, N_TEST, SPLIT_SEED)
pool_data, test_data = dataset.load_inputs(DATABASE, pipeline.DEFAULTS["CUTOFF"], pool, test_idx)
f_test = committee.reference_forces(test_data)
energies = dataset.read_energies_forces(DATABASE)[0]  # eV, every frame
labels = {}  # (strategy, seed): the labelled frames (database indices) after each round
for s in range(N_SEEDS):
    labels["random", s] = [dataset.split(n_frames, n, N_VAL, N_TEST, SPLIT_SEED, draw=s)[0] for n in n_labels]
    labels["active", s] = labels["random", s][:1]  # the same start
print(f"{n_frames} frames: {N_TEST} test, {N_VAL} validation, a pool of {len(pool)} unlabelled frames")

# %% 2 Model
# Each committee is COMMITTEE copies of the slides' SchNet (pipeline.SCHNET_SLIDES) on the
# same labelled frames, with seeds 0, 1, ...: script5's committee, with fewer frames and STEPS
# steps. Both strategies train their committees alike, so the comparison is fair.


def jobs(strategy, s, r, **changes):
    """The committee of one strategy, repeat and round: trained on its labels."""
    train_idx = labels[strategy, s][r]
    return {
        (strategy, s, r, k): workers.job(
            train_idx, val_idx, test_idx, STEPS, seed=k, **pipeline.SCHNET_SLIDES, **changes
        )
        for k in range(COMMITTEE)
    }


print(
    f"committees of {COMMITTEE} x SchNet ({pipeline.SCHNET_SLIDES['N_FEATURES']} features), "
    f"{STEPS} steps each"
)

# %% 3 Cost function
# Each member is trained on the slides' cost (0.01 x MSE of the energies + 0.99 x MSE of the forces).
# The active strategy's choice is script5's disagreement (SchNetPack's AbsoluteUncertainty): each
# round it labels the AL_BATCH unlabelled frames with the largest. The score of both strategies is
# the committee-mean test force MAE (kcal/mol/Å), and the error of the worst test frames: the 95th
# percentile of the frames' true errors (script5's measure): active learning aims at the rare frames.
kcal = dataset.EV_TO_KCAL_PER_MOL


def score(folders):
    """Committee-mean test force MAE and the 95th percentile of the frames' errors (kcal/mol/Å)."""
    forces = committee.member_forces(folders, test_data)
    return committee.force_mae(forces, f_test), float(
        np.quantile(committee.true_error(forces, f_test), 0.95) * kcal
    )


# %% 4 Find the parameters
# Random choices need no model, so every round of the random strategy trains at the start (round 0
# is the same training for both). The active strategy has to wait for each round's committee before
# it can choose: active learning is sequential. Every finished training is kept under
# results/script6_active_learning/: a rerun reuses it and only trains what is new (FORCE = True
# trains again); more rounds or repeats add only their own trainings.
todo = {k: v for s in range(N_SEEDS) for r in range(AL_ROUNDS + 1) for k, v in jobs("random", s, r).items()}
print(f"the random strategy's committees: {len(todo)} trainings, {N_WORKERS} at a time", flush=True)
places = committee.train(todo, folder, N_WORKERS, FORCE)
places.update(
    {("active", s, 0, k): places["random", s, 0, k] for s in range(N_SEEDS) for k in range(COMMITTEE)}
)
of = lambda strategy, s, r: [places[strategy, s, r, k] for k in range(COMMITTEE)]  # noqa: E731
curves = {key: [score(of(*key, 0))] for key in labels}  # (strategy, seed): [(MAE, worst 5 %)] per round
for r in range(1, AL_ROUNDS + 1):
    for s in range(N_SEEDS):  # the frames the last committee disagrees on most
        labelled = labels["active", s][-1]
        unlabelled = np.flatnonzero(~np.isin(pool, labelled))
        spread = committee.disagreement(
            committee.member_forces(of("active", s, r - 1), [pool_data[i] for i in unlabelled])
        )
        chosen = pool[unlabelled[np.argsort(spread)[::-1][:AL_BATCH]]]
        labels["active", s].append(np.sort(np.concatenate([labelled, chosen])))
    active = {k: v for s in range(N_SEEDS) for k, v in jobs("active", s, r).items()}
    places.update(committee.train(active, folder, N_WORKERS, FORCE))
    for key in labels:
        curves[key].append(score(of(*key, r)))
    mean = {st: np.mean([curves[st, s][r][0] for s in range(N_SEEDS)]) for st in ("active", "random")}
    print(f"round {r}: {n_labels[r]} labels: test force MAE active {mean['active']:.3f}, random "
          f"{mean['random']:.3f} kcal/mol/Å (mean over the repeats)", flush=True)  # fmt: skip
print(committee.trainings_done(folder))

# %% 5 Look at the result
# Top left: the committee-mean test force error against the number of labels, each repeat as a thin line,
# their mean as the thick one. Top right: the error of the worst 5 % of the test frames. Bottom: which
# frames each strategy labelled: the energies of its frames after the last round (all repeats) against
# the pool's. The committee asks mostly for high-energy frames, which a random draw rarely contains:
# active learning buys its advantage on the unusual frames; on the typical ones, which dominate the
# MAE, a random sample of an MD data set is already a good choice. (A run too small to show that
# advantage, as with the reduced settings, says so below the figure.)
run_dir = record.new_run(folder)  # this run's figures and numbers: never overwritten
mean_of = {
    (st, i): np.mean([[c[i] for c in curves[st, s]] for s in range(N_SEEDS)], axis=0)
    for st in ("active", "random")
    for i in (0, 1)
}
fig, axes = plt.subplot_mosaic([["mae", "worst"], ["hist", "hist"]], figsize=(10, 8), layout="constrained")
axes = [axes["mae"], axes["worst"], axes["hist"]]
e_pool = (energies[pool] - energies[pool].mean()) * kcal
edges = np.linspace(e_pool.min(), e_pool.max(), 30)
axes[2].hist(e_pool, bins=edges, density=True, color="0.8", label=f"pool ({len(pool)} frames)")
for strategy, color in (("active", "tab:red"), ("random", "tab:blue")):
    for i, ax in enumerate(axes[:2]):
        for s in range(N_SEEDS):
            ax.plot(n_labels, [c[i] for c in curves[strategy, s]], color=color, lw=0.7, alpha=0.5)
        ax.plot(
            n_labels,
            mean_of[strategy, i],
            "o-",
            color=color,
            lw=2,
            label=f"{strategy}: {mean_of[strategy, i][-1]:.2f} at {n_labels[-1]} labels",
        )
    chosen = np.concatenate([labels[strategy, s][-1] for s in range(N_SEEDS)])
    e_chosen = (energies[chosen] - energies[pool].mean()) * kcal
    axes[2].hist(
        e_chosen,
        edges,
        density=True,
        histtype="step",
        lw=2,
        color=color,
        label=f"{strategy}: {n_labels[-1]} labels x {N_SEEDS}",
    )
axes[0].set(ylabel="test force MAE (kcal/mol/Å)", title="committee-mean test force error")
axes[1].set(ylabel="95th percentile of frame errors (kcal/mol/Å)", title="the worst 5% of the test frames")
axes[2].set(
    xlabel="energy - pool mean (kcal/mol)", ylabel="frames (normalised)", title="which frames were labelled"
)
for ax in axes:
    ax.legend(fontsize=9)
for ax in axes[:2]:
    ax.set(xlabel="labelled frames")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # a count: 20, 25, ...
fig.suptitle(f"Active learning against random choice: committees of {COMMITTEE}, {STEPS} steps per training")
save_figure(fig, "active_learning")
save_figure(fig, "active_learning", run_dir)
print("committee-mean test force MAE and the worst 5% of test frames (kcal/mol/Å), mean over the repeats:")
for r, n in enumerate(n_labels):
    print(
        f"  {n:5d} labels: MAE active {mean_of['active', 0][r]:.3f}, random {mean_of['random', 0][r]:.3f}; "
        f"worst 5% active {mean_of['active', 1][r]:.3f}, random {mean_of['random', 1][r]:.3f}"
    )
if mean_of["active", 1][-1] >= mean_of["random", 1][-1]:  # the advantage described above: not in this run
    why = (
        "with the reduced settings (--quick) the committees are too small and too briefly trained for "
        "their disagreement to point at their errors"
        if quick_settings()
        else "the committees may be too small or too briefly trained for their disagreement to point at "
        "their errors, or the difference is within the spread of the repeats (more N_SEEDS tell)"
    )
    print(
        f"note: here active learning did not beat random choice on the worst 5% of the test frames "
        f"({mean_of['active', 1][-1]:.3f} against {mean_of['random', 1][-1]:.3f} kcal/mol/Å): {why}; at "
        "the default settings it does (benchmarks/README.md)"
    )

# Optional (RELABEL > 0; needs requirements-dataset.txt): the loop for real. The last active committee
# runs Langevin MD at TEMPERATURE_K (script5's committee MD); RELABEL of its flagged steps, spread over
# the run, are labelled with the data set's own PBE/def2-SVP calculation (generators/make_ethanol_dataset.py,
# PySCF), added to the committee's labels (a copy of the database with the new frames appended), and
# the committee trains again and reruns the MD. The labels say how wrong the committee was where it
# flagged; the new run, how much of it is still flagged.
relabel = {}
if RELABEL:
    last = of("active", 0, AL_ROUNDS)
    threshold = float(
        np.quantile(committee.disagreement(committee.member_forces(last, test_data)), THRESHOLD_QUANTILE)
    )
    start, _ = committee.start_frame(DATABASE, test_idx, SEED)
    md_args = (TEMPERATURE_K, MD_STEPS, TIMESTEP_FS, FRICTION_PER_FS, threshold, ASE_CALCS_DIR, SEED)
    calc = committee.calculator(last)
    before = committee.run_md(calc, start, *md_args)
    flagged = np.flatnonzero(before["flagged"])
    if len(flagged) == 0:
        warn(
            f"no step of the {TEMPERATURE_K:g} K run was flagged: nothing to label (lower THRESHOLD_QUANTILE)"
        )
    else:
        positions = before["positions"][
            flagged[np.unique(np.linspace(0, len(flagged) - 1, RELABEL).round().astype(int))]
        ]
        e_new, f_new, seconds = committee.pbe_labels(start.get_chemical_symbols(), positions, folder)
        errors = []
        for p, f in zip(positions, f_new):  # the committee's true error where it flagged
            atoms = start.copy()
            atoms.positions = p
            errors.append(np.linalg.norm(calc.get_forces(atoms) - f, axis=1).mean() * kcal)
        new_db, added = committee.with_new_frames(DATABASE, start, positions, e_new, f_new, folder)
        labels["relabelled", 0] = [np.concatenate([labels["active", 0][-1], added])]
        retrained = committee.train(jobs("relabelled", 0, 0, DB_PATH=str(new_db)), folder, N_WORKERS, FORCE)
        after = committee.run_md(committee.calculator(list(retrained.values())), start, *md_args)
        relabel = {
            "frames": len(positions),
            "pbe_s_per_frame": seconds / len(positions),
            "flagged_error_kcal_mol_A": float(np.mean(errors)),
            "flagged_before_percent": before["flagged"].mean() * 100,
            "flagged_after_percent": after["flagged"].mean() * 100,
        }
        print(f"PBE/def2-SVP: {relabel['pbe_s_per_frame']:.1f} s per frame; on the {len(positions)} flagged "
              f"frames the committee's true error was {relabel['flagged_error_kcal_mol_A']:.2f} kcal/mol/Å; "
              f"flagged at {TEMPERATURE_K:g} K: {relabel['flagged_before_percent']:.1f}% -> "
              f"{relabel['flagged_after_percent']:.1f}% of the steps after training with them")  # fmt: skip
show()

result = {
    "active_force_mae_kcal_mol_A": mean_of["active", 0][-1],
    "random_force_mae_kcal_mol_A": mean_of["random", 0][-1],
    "labels": n_labels[-1],
    "active_worst5_kcal_mol_A": mean_of["active", 1][-1],
    "random_worst5_kcal_mol_A": mean_of["random", 1][-1],
}
if relabel:
    result[f"relabelled_flagged_{TEMPERATURE_K:g}K_percent"] = round(relabel["flagged_after_percent"], 1)
result["total_s"] = round(time.perf_counter() - t_start)
curve_record = {
    "labels": n_labels,
    **{
        f"{st}_seed{s}": {"mae": [c[0] for c in curves[st, s]], "worst5": [c[1] for c in curves[st, s]]}
        for st, s in curves
    },
}
record.finish(
    run_dir, result, {"active_learning": curve_record, "relabel": relabel, "trainings": committee.counts}
)

# %% Exercises
# Worked answers: solutions/script6_active_learning.py (run it, or read it on the lesson's page).
#
# 1. (read the figure) In active_learning.png, at 50 labels both strategies have exactly the same error:
#    why? At 200 labels, which strategy wins on the MAE, which on the worst 5 % of the test frames?
# 2. (read the figure) From the round-by-round printout: after how many labels does active learning
#    first beat random choice on the MAE? Was random choice ahead before that, and by how much?
# 3. (write code) Does the disagreement point at high-energy frames? With the start committee (trained on
#    the AL_START frames, in results/script6_active_learning/) compute the disagreement on every pool frame,
#    its Spearman rho with the frame's energy, and the mean energy of the AL_BATCH frames it would choose.
