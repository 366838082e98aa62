"""script4_learning_curve.py: slide "Learning curve" (slide 10) on ethanol, and the ladder to paper accuracy.

How much data and which model does a force field need? SchNet and PaiNN are trained on 25 to 1,000
ethanol frames, several training sets per size, and tested on the same held-out frames: the test
error falls as a power of N (a straight line on log-log axes), and the spread between training sets
shows how much a small set depends on luck. Then "the ladder": the test force error against the
training time for settings a student can choose, from script2's minute to a PaiNN trained twelve
times as long, against the published rMD17 numbers, with every training cached so that a rerun only
adds what is new.
"""

from schnet_tutorial.helpers import dataset  # isort: skip (first: it quiets SchNetPack's import)
import math
import time

import matplotlib.pyplot as plt
import numpy as np

from common.plotting import plain_log_labels, save_figure, show
from common.runs import DATABASE, RESULTS_DIR
from common.settings import check, check_writable, setup
from schnet_tutorial.helpers import pipeline, workers

# %% Settings: edit these, or override them on the command line (--ladder full --force)
MODELS = ["schnet", "painn"]  # the representations of script2: SchNet (invariant), PaiNN (equivariant)
TRAIN_SIZES = [25, 50, 100, 250, 500, 1000]  # training frames N of the points of the learning curve
SETS_PER_SIZE = [3, 2, 2, 1, 1, 1]  # training sets drawn per size (draw 0, 1, ...): the spread between them
STEPS = 3750  # optimizer steps of every point (30 epochs of 1,000 frames, batch 8)
N_VAL = 200  # validation frames, the same for every training
N_TEST = 500  # test frames, the same for every training
FIT_UP_TO = 250  # frames: the slope is fitted to the sizes up to this (beyond, STEPS limit, not data)
N_LADDER = 1000  # training frames of the ladder's rungs
LADDER = "short"  # "short": the quick rungs; "full": also the long ones (~25 min more); "none"
FORCE = False  # True (--force): train every point again instead of reusing finished ones
SPLIT_SEED = 0  # which frames are test, validation and training pool
# Hardware
N_WORKERS = 2  # trainings side by side, one CPU core each
setup(globals(), "script4_learning_curve")  # command-line overrides and checks

# %% 1 Data
# Slides 9-10. The test and validation frames are drawn once and shared by every training, so all
# points are measured with the same ruler. Each training set is drawn at random from the remaining
# pool: draw 0 takes the first N frames of one shuffle of the pool, draw 1 of another. The sets of one
# draw are nested (its 25 frames are part of its 50), as when a data set grows (dataset.split, the one
# split of every lesson).
check(
    len(SETS_PER_SIZE) == len(TRAIN_SIZES),
    f"SETS_PER_SIZE needs one count per TRAIN_SIZES value ({len(TRAIN_SIZES)}), got {SETS_PER_SIZE}",
)
check(len(set(MODELS)) == len(MODELS), f"MODELS lists a model twice: {MODELS}")
check(N_TEST > 0, "N_TEST must be at least 1 here: every training is tested on the same N_TEST frames "
      "(0 would test each on its own leftover frames: the curve would compare different tests)")  # fmt: skip
folder = RESULTS_DIR / "script4_learning_curve"  # every training's model and result, reused by reruns
check_writable(folder.parent)
t_start = time.perf_counter()
n_frames = dataset.count_frames(DATABASE)  # (stops with one line if script1 has not made it)


def frames(n, draw):
    """(train, validation, test) frame indices: n training frames of draw number ``draw``."""
    return dataset.split(n_frames, n, N_VAL, N_TEST, SPLIT_SEED, draw)


for n in set(TRAIN_SIZES + [N_LADDER]):
    frames(n, 0)  # stops with one line if the database is too small for it
print(f"{n_frames} frames: {N_TEST} test, {N_VAL} validation, the rest a pool to draw training sets from")

# %% 2 Model
# Slide 15: two models at the slides' settings (pipeline.SCHNET_SLIDES: 64 features, the MSE cost):
# SchNet (invariant: it sees only distances) and PaiNN (equivariant: it also passes direction vectors
# between atoms). The ladder's rungs are settings a student can choose: script2's minute (its
# defaults), then the slides' SchNet with a few settings changed: the model, the number of optimizer
# steps (the time), the cost (cell 3), and for the longest training the learning rate (at 1e-2,
# twelve times as many steps went astray). benchmarks/README.md says what each knob bought; the
# others (weight decay, batch size, loss weights, an average of the weights) bought nothing beyond
# the noise.
slides = pipeline.SCHNET_SLIDES
rungs = {  # name: script2's settings changed, and the optimizer steps
    "the minute (script2)": (
        {},
        pipeline.DEFAULTS["EPOCHS"] * math.ceil(N_LADDER / pipeline.DEFAULTS["BATCH_SIZE"]),
    ),
    "SchNet, the slides' minute": (slides, STEPS),
    "PaiNN, the same steps": ({**slides, "MODEL": "painn"}, STEPS),
    "PaiNN, L1 cost": ({**slides, "MODEL": "painn", "LOSS": "l1"}, STEPS),
    "SchNet, 4x steps": (slides, 4 * STEPS),
}
RUNG10 = "PaiNN, 5.5x steps: 10 minutes"  # the best rung that trains within 600 s on a 2-core laptop
long_rungs = {
    "SchNet, L1 cost, 12x steps": ({**slides, "LOSS": "l1"}, 12 * STEPS),
    RUNG10: ({**slides, "MODEL": "painn"}, round(5.5 * STEPS)),
    "PaiNN, 12x steps, half the learning rate": (
        {**slides, "MODEL": "painn", "LEARNING_RATE": 5e-3},
        12 * STEPS,
    ),
}
rungs = {"short": rungs, "full": {**rungs, **long_rungs}, "none": {}}[LADDER]

# %% 3 Cost function
# Slide 6: 0.01 x MSE of the energies (eV²) + 0.99 x MSE of the force components (eV²/Å²), script2's
# weights (pipeline.DEFAULTS). The minute and the rungs marked "L1 cost" use the mean absolute errors
# instead (eV and eV/Å, same weights): the test's own measure, and large errors count less. What the
# curves show is not the cost but the test errors: the mean absolute error of the energies
# (kcal/mol) and of the force components (kcal/mol/Å) on the N_TEST frames no training saw.
weights = pipeline.DEFAULTS["ENERGY_WEIGHT"], pipeline.DEFAULTS["FORCE_WEIGHT"]
print(f"cost: {weights[0]} x MSE(energy) + {weights[1]} x MSE(forces)")

# %% 4 Find the parameters
# Every point and rung is one training of script2's pipeline (pipeline.train), N_WORKERS of them
# side by side. Each finished training is kept under results/script4_learning_curve/ with its
# model, so a rerun reuses it (FORCE = True retrains); the lines below appear as trainings finish.


points = {
    (model, n, draw): workers.job(*frames(n, draw), STEPS, seed=draw, **{**slides, "MODEL": model})
    for model in MODELS
    for n, n_sets in zip(TRAIN_SIZES, SETS_PER_SIZE)
    for draw in range(n_sets)
}
ladder = {
    name: workers.job(*frames(N_LADDER, 0), steps, seed=0, **change)
    for name, (change, steps) in rungs.items()
}


def report(name, r, where, cached):
    label = name if isinstance(name, str) else f"{name[0]} N={name[1]} draw {name[2]}"
    print(
        f"  {label:30s} energy MAE {r['energy_mae_kcal_mol']:6.3f} kcal/mol, force MAE "
        f"{r['force_mae_kcal_mol_A']:6.3f} kcal/mol/Å, {r['train_s']:6.1f} s"
        + (" (reused)" if cached else ""),
        flush=True,
    )


print(f"{len(points)} learning-curve trainings and {len(ladder)} rungs, {N_WORKERS} at a time:")
results = workers.run_all({**points, **ladder}, folder, N_WORKERS, FORCE, say=report)
places = workers.folders(ladder, folder)
print(f"all trainings done in {time.perf_counter() - t_start:.0f} s")

# %% 5 Look at the result
# Slide 10. Top: the test errors against N on log-log axes, every training set as a small dot, their mean as
# the line, the bar from the best to the worst set. A straight line means
# :math:`\mathrm{error} \propto N^\mathrm{slope}`: with slope -0.5, four times the data halve the error. The
# slope is fitted to the sizes up to FIT_UP_TO (the dashed line): beyond them the curves bend flat, because
# every point gets the same STEPS, and learning 1,000 frames takes more steps than learning 100: there the
# training time, not the data, limits (slide 11's bias). Bottom: what each point cost. Then the ladder: the
# test force error against the training time on this laptop, with the published errors on rMD17 ethanol as
# dotted lines (1,000 training frames of the same PBE/def2-SVP level, other frames: comparable in size, not
# exactly): MACE and NequIP trained for hours on a GPU, FCHL19 and ACE fitted on CPUs
# (dataset.PUBLISHED_FORCE_MAE_MEV_A).
names = {"schnet": "SchNet", "painn": "PaiNN", "so3net": "SO3net"}
colors = {"schnet": "C0", "painn": "C1", "so3net": "C2"}
quantities = {
    "energy_mae_kcal_mol": "energy MAE (kcal/mol)",
    "force_mae_kcal_mol_A": "force MAE (kcal/mol/Å)",
}
curve, slopes, fits = {}, {}, {}
for model in MODELS:
    for key in [*quantities, "train_s"]:
        curve[model, key] = [
            [results[model, n, s][key] for s in range(k)] for n, k in zip(TRAIN_SIZES, SETS_PER_SIZE)
        ]
    mean_force = [np.mean(v) for v in curve[model, "force_mae_kcal_mol_A"]]
    fitted = [k for k, n in enumerate(TRAIN_SIZES) if n <= FIT_UP_TO]
    fitted = fitted if len(fitted) > 1 else list(range(len(TRAIN_SIZES)))  # at least two sizes
    x, y = np.log(np.array(TRAIN_SIZES)[fitted]), np.log(np.array(mean_force)[fitted])
    fits[model] = np.polyfit(x, y, 1) if len(set(x)) > 1 else np.array([np.nan, np.nan])  # none: one size
    slopes[model] = fits[model][0]

print("test force MAE (kcal/mol/Å), mean [lowest, highest] over the training sets; training time:")
for model in MODELS:
    for n, forces, times in zip(TRAIN_SIZES, curve[model, "force_mae_kcal_mol_A"], curve[model, "train_s"]):
        spread = (
            f"[{min(forces):.3f}, {max(forces):.3f}] ({len(forces)} sets)" if len(forces) > 1 else "(1 set)"
        )
        print(f"  {names[model]:6s} N={n:5d}: {np.mean(forces):.3f} {spread}, {np.mean(times):.0f} s each")
    no_slope = f"no slope: a power law needs two training sizes or more, TRAIN_SIZES = {TRAIN_SIZES}"
    print(
        f"  {names[model]}: "
        + (f"force MAE ~ N^{slopes[model]:.2f}" if np.isfinite(slopes[model]) else no_slope)
    )

fig, axes = plt.subplot_mosaic([["energy", "force"], ["time", "time"]], figsize=(10, 8), layout="constrained")
axes = [axes["energy"], axes["force"], axes["time"]]
for model in MODELS:
    color = colors[model]
    for ax, key in zip(axes, [*quantities, "train_s"]):
        values = curve[model, key]
        means = np.array([np.mean(v) for v in values])
        for n, v in zip(TRAIN_SIZES, values):
            ax.plot([n] * len(v), v, ".", color=color, alpha=0.4, ms=6)
        spread = [means - [min(v) for v in values], [max(v) for v in values] - means]
        ax.errorbar(TRAIN_SIZES, means, yerr=spread, color=color, marker="o", capsize=3, label=names[model])
        if key == "force_mae_kcal_mol_A" and np.isfinite(slopes[model]):  # the fitted power law, dashed
            fit = np.exp(np.polyval(fits[model], np.log(TRAIN_SIZES)))
            ax.plot(
                TRAIN_SIZES,
                fit,
                "--",
                color=color,
                lw=1,
                label=f"{names[model]}: N^{slopes[model]:.2f} (fit, N <= {np.exp(x).max():.0f})",
            )
axes[0].axhline(1.0, color="gray", ls=":", label="1 kcal/mol (chemical accuracy)")
for ax, ylabel in zip(axes, [*quantities.values(), "training time per point (s)"]):
    ax.set(
        xscale="log",
        yscale="log" if ax is not axes[2] else "linear",
        xlabel="training frames N",
        ylabel=ylabel,
    )
    plain_log_labels(ax.xaxis)
    if ax is not axes[2]:
        plain_log_labels(ax.yaxis)
    ax.legend(fontsize=9)
axes[2].set_ylim(bottom=0)
axes[0].set_title("test energy error")
axes[1].set_title("test force error")
axes[2].set_title(f"cost of a point ({STEPS} steps, one core)")
fig.suptitle(f"Learning curves on ethanol: {N_TEST} test frames, {N_VAL} validation frames")
save_figure(fig, "schnet_learning_curve")

KCAL_PER_MEV = 0.001 * dataset.EV_TO_KCAL_PER_MOL  # 1 meV = 0.023 kcal/mol
if ladder:
    fig, ax = plt.subplots(figsize=(10, 5.5), layout="constrained")
    model_of = {name: {**pipeline.DEFAULTS, **s}["MODEL"] for name, s in ladder.items()}
    for k, name in enumerate(ladder):  # each rung its marker, named in the legend (labels beside the
        r = results[name]  # points would overlap where rungs cost about the same)
        kind = names[model_of[name]]
        label = f"{name if kind in name else f'{name}, {kind}'}: {r['force_mae_kcal_mol_A']:.3f}"
        ax.plot(r["train_s"], r["force_mae_kcal_mol_A"], "osD^vPX*hp"[k % 10], color=colors[model_of[name]],
                ms=8, ls="none", label=label)  # fmt: skip
    published = sorted(dataset.PUBLISHED_FORCE_MAE_MEV_A.items(), key=lambda item: -item[1])
    for k, (label, mev) in enumerate(published):  # published, other frames: a reference
        ax.axhline(mev * KCAL_PER_MEV, color="gray", ls=":", lw=1)
        side = k % 2  # left, right, left, ...: neighbouring lines' labels do not overlap
        ax.annotate(f"{label}: {mev * KCAL_PER_MEV:.3f} (published)", (side, mev * KCAL_PER_MEV),
                    xycoords=("axes fraction", "data"), xytext=(3 - 6 * side, 2), textcoords="offset points",
                    ha=("left", "right")[side], fontsize=8, color="dimgray")  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="training time on one CPU core (s)",
           ylabel="test force MAE (kcal/mol/Å)")  # fmt: skip
    plain_log_labels(ax.xaxis)
    plain_log_labels(ax.yaxis)
    ax.set_title(f"The ladder: {N_LADDER} training frames, {N_TEST} test frames")
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1), title="test force MAE (kcal/mol/Å)")
    ax.margins(x=0.4, y=0.12)
    save_figure(fig, "schnet_ladder")
    print(f"the ladder, {N_LADDER} training frames: test force MAE, energy MAE, training time on one core:")
    width = max(map(len, ladder))
    for name in ladder:
        r = results[name]
        e, f = r["energy_mae_kcal_mol"], r["force_mae_kcal_mol_A"]
        print(f"  {name:{width}s} {f:.3f} kcal/mol/Å  {e:.3f} kcal/mol  {r['train_s']:5.0f} s")
    best = min(ladder, key=lambda name: results[name]["force_mae_kcal_mol_A"])
    r = results[best]
    print(f"best rung: {best}: force MAE {r['force_mae_kcal_mol_A']:.3f} kcal/mol/Å in {r['train_s']:.0f} s;"
          f" its model (for script3/script7 --model-file): {places[best]}")  # fmt: skip
show()

top = {model: np.mean(curve[model, "force_mae_kcal_mol_A"][-1]) for model in MODELS}
line = " ".join(f"{m}_{TRAIN_SIZES[-1]}_force_mae_kcal_mol_A={top[m]:.3f}" for m in MODELS)
line += " " + " ".join(f"slope_{m}={slopes[m]:.2f}" for m in MODELS)
if ladder:
    line += f" best_rung_force_mae_kcal_mol_A={results[best]['force_mae_kcal_mol_A']:.3f}"
    line += f" best_rung_train_s={results[best]['train_s']:.0f}"
if RUNG10 in ladder:
    print(f"rung10 model: {places[RUNG10]}")
    line += f" rung10_force_mae_kcal_mol_A={results[RUNG10]['force_mae_kcal_mol_A']:.3f}"
    line += f" rung10_train_s={results[RUNG10]['train_s']:.0f}"
print(f"result: {line} total_s={time.perf_counter() - t_start:.0f}")

# %% Exercises
# Worked answers: solutions/script4_learning_curve.py (run it, or read it on the lesson's page).
#
# 1. (read the figure) In schnet_learning_curve.png: at which N does each model's test force MAE first
#    fall below 1 kcal/mol/Å? From the printed slope: how many times the data halve PaiNN's error?
# 2. (predict, then run) ``--fit-up-to 1000`` fits the power law to every size (the trainings are reused:
#    seconds). Before you run: will the slopes get steeper or shallower, and why? Then run and compare.
# 3. (write code) The lesson fits the slope of the force error only. Read every learning-curve training's
#    test errors from results/script4_learning_curve/ (result.json, model_info.json) and fit the slope of
#    the energy MAE as well: does the energy error fall faster or slower with N than the force error?
