"""Time to accuracy: test force MAE against training wall time, per model family and recipe (issue 22).

Every point is one training of script2's pipeline (``pipeline.train``: SchNetPack's models, Lightning's
Trainer, a cosine learning rate over the training's epochs) on the same frames: script4's ladder split
(500 test frames, 200 validation, 1,000 training: ``dataset.split(2000, 1000, 200, 500, 0)``), one CPU
thread per training, two trainings side by side (as script4 runs them). A recipe is a few of script2's
settings changed; its curve is the same recipe trained for more and more epochs (each point its own
cosine, so every point is a finished training, not a snapshot). MACE (``bench_mace.py``, mace-torch
trained from scratch) is a snapshot curve of one training, read from its ``curve.json`` if present.

    python benchmarks/bench_time_to_accuracy.py                    # every recipe, seed 0 (~1 h)
    python benchmarks/bench_time_to_accuracy.py painn32_l1 --seeds 0 1 2
    python benchmarks/bench_time_to_accuracy.py --plot             # only the figure and table

Finished trainings are reused from results/bench_time_to_accuracy/ (delete it to measure again). The
errors do not depend on the machine (fixed seeds); the times are this machine's, and depend on what
else runs on it. The figure, results/bench_time_to_accuracy/time_to_accuracy.png, also shows the
published errors on rMD17 ethanol (other frames of the same PBE/def2-SVP level: a reference, not a
like-for-like comparison).
"""

from schnet_tutorial import dataset, workers  # isort: skip (first: it quiets SchNetPack's import)
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common.plotting import save_figure  # noqa: E402
from common.runs import DATABASE, RESULTS_DIR  # noqa: E402

FOLDER = RESULTS_DIR / "bench_time_to_accuracy"
MEV_PER_KCAL = 43.364  # 1 kcal/mol/Å = 43.364 meV/Å
# name: (script2's settings changed, the epochs of its points); batch 8: 125 steps per epoch
RECIPES = {
    "schnet": ({"MODEL": "schnet"}, [30, 120]),
    "schnet_l1": ({"MODEL": "schnet", "LOSS": "l1"}, [30, 120]),
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
    "painn": ({"MODEL": "painn"}, [30, 165]),
    "painn_l1": ({"MODEL": "painn", "LOSS": "l1"}, [30, 165]),
    "painn_l1_ema": ({"MODEL": "painn", "LOSS": "l1", "EMA_DECAY": 0.99}, [30, 165]),
    "so3net_l1_ema": ({"MODEL": "so3net", "LOSS": "l1", "EMA_DECAY": 0.99}, [10, 30]),
}


def trainings(names, seeds):
    """{(recipe, epochs, seed): settings} for workers.run_all."""
    train_idx, val_idx, test_idx = dataset.split(dataset.count_frames(DATABASE), 1000, 200, 500, 0)
    jobs = {}
    for name in names:
        changes, epochs_list = RECIPES[name]
        batch = changes.get("BATCH_SIZE", 8)
        for epochs in epochs_list:
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


def plot(results):
    fig, ax = plt.subplots(figsize=(9, 6))
    for k, name in enumerate(dict.fromkeys(key[0] for key in results)):
        mine = sorted((key[1], r) for key, r in results.items() if key[0] == name)
        ax.plot([r["train_s"] for _, r in mine], [r["force_mae_kcal_mol_A"] for _, r in mine], "o-",
                color=f"C{k % 10}", label=name, ms=4, alpha=0.85)  # fmt: skip
    for name, points in mace_curves().items():
        ax.plot(*zip(*points), "s--", color="k", ms=3, label=name)
    for name, mev in dataset.PUBLISHED_FORCE_MAE_MEV_A.items():
        ax.axhline(mev / MEV_PER_KCAL, color="0.5", ls=":", lw=1)
        ax.text(20, mev / MEV_PER_KCAL * 1.03, f"{name}, published: {mev} meV/Å", fontsize=7, color="0.35")
    for target in (0.5, 0.12):
        ax.axhline(target, color="C3", lw=0.8, alpha=0.5)
    ax.axvline(60, color="C3", lw=0.8, alpha=0.5)
    ax.axvline(600, color="C3", lw=0.8, alpha=0.5)
    ax.set(xscale="log", yscale="log", xlabel="training time, one CPU core (s)",
           ylabel="test force MAE (kcal/mol/Å)")  # fmt: skip
    ax.set_title(
        "Time to accuracy: ethanol, 1,000 training frames, 500 test frames (red: issue 22's targets)"
    )
    ax.legend(fontsize=7, ncol=2)
    save_figure(fig, "time_to_accuracy", FOLDER)


def report(key, r, folder, cached):
    print(f"{key}: force MAE {r['force_mae_kcal_mol_A']:.3f} kcal/mol/Å in {r['train_s']:.0f} s"
          + (" (reused)" if cached else ""), flush=True)  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", help=f"of {', '.join(RECIPES)} (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--plot", action="store_true", help="only the finished trainings: figure and table")
    args = parser.parse_args()
    for name in args.recipes:
        if name not in RECIPES:
            parser.error(f"unknown recipe {name}: choose from {', '.join(RECIPES)}")
    jobs = trainings(args.recipes or list(RECIPES), args.seeds)
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
