"""Time to accuracy: test force MAE against training wall time, per model family and recipe (issue 22).

Every point is one training of script2's pipeline (``pipeline.train``: SchNetPack's models, Lightning's
Trainer, a cosine learning rate over the training's epochs) on the same frames: script4's ladder split
(500 test frames, 200 validation, 1,000 training: ``dataset.split(2000, 1000, 200, 500, 0)``), one CPU
thread per training, two trainings side by side (as script4 runs them). A recipe is a few of script2's
settings changed; its curve is the same recipe trained for more and more epochs (each point its own
cosine, so every point is a finished training, not a snapshot). MACE (``bench_mace.py``, mace-torch
trained from scratch) is a snapshot curve of one training, read from its ``curve.json`` if present.

    python benchmarks/bench_time_to_accuracy.py                    # every recipe, seed 0 (~1 h)
    python benchmarks/bench_time_to_accuracy.py painn32_l1 --seeds 0 1 2 --epochs 20
    python benchmarks/bench_time_to_accuracy.py --plot             # only the figure and table

Finished trainings are reused from results/bench_time_to_accuracy/ (delete it to measure again). The
errors do not depend on the machine (fixed seeds); the times are this machine's, and depend on what
else runs on it. The figure, results/bench_time_to_accuracy/time_to_accuracy.png, also shows the
published errors on rMD17 ethanol (other frames of the same PBE/def2-SVP level: a reference, not a
like-for-like comparison).
"""

from schnet_tutorial.helpers import dataset, pipeline, workers  # isort: skip (first: it quiets SchNetPack's import)
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common.plotting import save_figure  # noqa: E402
from common.runs import DATABASE, RESULTS_DIR  # noqa: E402

FOLDER = RESULTS_DIR / "bench_time_to_accuracy"
MEV_PER_KCAL = 43.364  # 1 kcal/mol/Å = 43.364 meV/Å
SLIDES = pipeline.SCHNET_SLIDES  # SchNet, 64 features, the MSE cost
# name: (script2's settings changed, the epochs of its points); batch 8: 125 steps per epoch
RECIPES = {
    "schnet": (SLIDES, [30, 120]),
    "schnet_l1": ({**SLIDES, "LOSS": "l1"}, [30, 120]),
    "painn32_l1": ({"MODEL": "painn", "N_FEATURES": 32, "LOSS": "l1"}, [20, 40]),
    "painn32_l1_ema": ({"MODEL": "painn", "N_FEATURES": 32, "LOSS": "l1", "EMA_DECAY": 0.99}, [20, 40]),
    "painn32_l1_ema995": ({"MODEL": "painn", "N_FEATURES": 32, "LOSS": "l1", "EMA_DECAY": 0.995}, [20]),
    "painn32_l1_f999": (
        {"MODEL": "painn", "N_FEATURES": 32, "LOSS": "l1", "ENERGY_WEIGHT": 0.001, "FORCE_WEIGHT": 0.999},
        [20],
    ),
    "painn32_l1_b4": ({"MODEL": "painn", "N_FEATURES": 32, "LOSS": "l1", "BATCH_SIZE": 4}, [10]),
    "painn32_l1_lr2e-2": ({"MODEL": "painn", "N_FEATURES": 32, "LOSS": "l1", "LEARNING_RATE": 2e-2}, [20]),
    "painn32_l1_final1e-3": ({"MODEL": "painn", "N_FEATURES": 32, "LOSS": "l1", "LR_FINAL": 1e-3}, [20]),
    "painn48_l1": ({"MODEL": "painn", "N_FEATURES": 48, "LOSS": "l1"}, [15]),
    "painn32_l1_cut4": ({"MODEL": "painn", "N_FEATURES": 32, "LOSS": "l1", "CUTOFF": 4.0}, [20]),
    "painn32_l1_e0.1": (
        {"MODEL": "painn", "N_FEATURES": 32, "LOSS": "l1", "ENERGY_WEIGHT": 0.1, "FORCE_WEIGHT": 0.9},
        [20],
    ),
    "painn32_l1_rbf10": ({"MODEL": "painn", "N_FEATURES": 32, "LOSS": "l1", "N_RBF": 10}, [20]),
    "painn32": ({**SLIDES, "MODEL": "painn", "N_FEATURES": 32}, [240]),
    "painn": ({**SLIDES, "MODEL": "painn"}, [30, 165]),
    "painn_l1": ({**SLIDES, "MODEL": "painn", "LOSS": "l1"}, [30, 165]),
    "painn_l1_ema": ({**SLIDES, "MODEL": "painn", "LOSS": "l1", "EMA_DECAY": 0.99}, [30, 165]),
    "so3net_l1_ema": ({**SLIDES, "MODEL": "so3net", "LOSS": "l1", "EMA_DECAY": 0.99}, [10]),
}


def trainings(names, seeds, only_epochs=()):
    """{(recipe, epochs, seed): settings} for workers.run_all (``only_epochs``: just these points)."""
    train_idx, val_idx, test_idx = dataset.split(dataset.count_frames(DATABASE), 1000, 200, 500, 0)
    jobs = {}
    for name in names:
        changes, epochs_list = RECIPES[name]
        batch = changes.get("BATCH_SIZE", 8)
        for epochs in [e for e in epochs_list if not only_epochs or e in only_epochs]:
            for seed in seeds:
                job = workers.job(train_idx, val_idx, test_idx, epochs * -(-1000 // batch), seed, **changes)
                jobs[(name, epochs, seed)] = job
    return jobs


def mace_curves():
    """{name: [(train_s, force MAE)]} of bench_mace.py's runs under FOLDER."""
    curves = {}
    for path in sorted(FOLDER.glob("mace_*/curve.json")):
        points = json.loads(path.read_text(encoding="utf-8"))["points"]
        curves[path.parent.name] = [(p["train_s"], p["force_mae_kcal_mol_A"]) for p in points]
    return curves


CURVES = {  # the recipes drawn as lines: name -> (colour, line style, label)
    "schnet": ("C0", "-", "SchNet 64, MSE (the slides)"),
    "schnet_l1": ("C0", "--", "SchNet 64, L1"),
    "painn": ("C1", "-", "PaiNN 64, MSE"),
    "painn_l1": ("C1", "--", "PaiNN 64, L1"),
    "painn32_l1": ("C2", "--", "PaiNN 32, L1 (the minute)"),
    "painn32": ("C2", "-", "PaiNN 32, MSE"),
}
FAMILY = {"schnet": "C0", "painn": "C1", "painn32": "C2", "painn48": "C2", "so3net": "C4"}


def plot(results):
    """Each curve a line, each one-setting probe a cross, MACE's snapshots, the published errors."""
    fig, ax = plt.subplots(figsize=(10, 6.5), layout="constrained")
    for name in dict.fromkeys(key[0] for key in results):
        others = [r for key, r in results.items() if key[0] == name and key[2] != 0]  # other seeds: dots
        color = CURVES[name][0] if name in CURVES else FAMILY[name.split("_")[0]]
        ax.plot([r["train_s"] for r in others], [r["force_mae_kcal_mol_A"] for r in others], ".", color=color)
        mine = sorted((key[1], r) for key, r in results.items() if key[0] == name and key[2] == 0)
        x, y = [r["train_s"] for _, r in mine], [r["force_mae_kcal_mol_A"] for _, r in mine]
        if not mine:
            continue
        if name in CURVES:
            color, style, label = CURVES[name]
            ax.plot(x, y, "o" + style, color=color, label=label, ms=5)
        else:  # a probe: one setting changed, e.g. painn32_l1_ema
            ax.plot(x, y, "x", color=FAMILY[name.split("_")[0]], ms=6)
            ax.annotate(
                name, (x[-1], y[-1]), xytext=(4, -3), textcoords="offset points", fontsize=6, color="0.3"
            )
    for name, points in mace_curves().items():
        ax.plot(*zip(*points), "s:", color="k", ms=4, label=f"MACE 32 channels, L = 0 (mace-torch; {name})")
    for name, mev in dataset.PUBLISHED_FORCE_MAE_MEV_A.items():
        ax.axhline(mev / MEV_PER_KCAL, color="0.5", ls=":", lw=1)
        where = (1, mev / MEV_PER_KCAL)  # the right edge, at the published error
        ax.annotate(f"{name}, published: {mev} meV/Å", where, xycoords=("axes fraction", "data"),
                    xytext=(-3, 2),
                    textcoords="offset points", ha="right", size=7, color="0.35")  # fmt: skip
    ax.plot([60, 600], [0.5, 0.12], "*", color="C3", ms=14, label="targets: 0.5 in 60 s, 0.12 in 600 s")
    ax.set(xscale="log", yscale="log", xlabel="training time, one CPU core, two trainings side by side (s)",
           ylabel="test force MAE (kcal/mol/Å)")  # fmt: skip
    ax.xaxis.set_major_formatter("{x:g}")
    ax.xaxis.set_minor_formatter("{x:g}")
    ax.yaxis.set_major_formatter("{x:g}")
    ax.set_title("Time to accuracy: ethanol, 1,000 training frames, 500 test frames (x: one setting changed)")
    ax.plot([], [], ".", color="0.4", label="the same recipe, other seeds")
    ax.legend(fontsize=8, loc="lower left")
    save_figure(fig, "time_to_accuracy", FOLDER)


def report(key, r, folder, cached):
    print(f"{key}: force MAE {r['force_mae_kcal_mol_A']:.3f} kcal/mol/Å in {r['train_s']:.0f} s"
          + (" (reused)" if cached else ""), flush=True)  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", help=f"of {', '.join(RECIPES)} (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[], help="only the points of these epochs")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--plot", action="store_true", help="only the finished trainings: figure and table")
    args = parser.parse_args()
    for name in args.recipes:
        if name not in RECIPES:
            parser.error(f"unknown recipe {name}: choose from {', '.join(RECIPES)}")
    jobs = trainings(args.recipes or list(RECIPES), args.seeds, args.epochs)
    if args.plot:
        jobs = {key: s for key, s in jobs.items() if workers.load_result(workers.folder_of(FOLDER, s))}
        results = {key: workers.load_result(workers.folder_of(FOLDER, s)) for key, s in jobs.items()}
    else:
        results = workers.run_all(jobs, FOLDER, args.workers, say=report)
    print(
        "| recipe | epochs | seed | force MAE (kcal/mol/Å) | meV/Å | energy MAE (kcal/mol) | training (s) |"
    )
    print("|---|---|---|---|---|---|---|")
    for (name, epochs, seed), r in results.items():
        f = r["force_mae_kcal_mol_A"]
        print(f"| {name} | {epochs} | {seed} | {f:.3f} | {f * MEV_PER_KCAL:.1f} | "
              f"{r['energy_mae_kcal_mol']:.3f} | {r['train_s']:.0f} |")  # fmt: skip
    for name, points in mace_curves().items():
        print(f"{name}: " + ", ".join(f"{f:.3f} at {t:.0f} s" for t, f in points))
    plot(results)


if __name__ == "__main__":
    main()
