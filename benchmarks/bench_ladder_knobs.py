"""What each knob of a PaiNN training buys: test force MAE after the same number of optimizer steps.

PaiNN (64 features, 3 interactions) on 1,000 ethanol frames, script4's split (the first 500 frames
of its shuffle are the test set, the next 200 validation, training = 1,000 of the rest: dataset.split),
5,000 optimizer steps each; one knob changed per line from the slides' settings (pipeline.SCHNET_SLIDES:
64 features, the MSE cost; script2's defaults until issue 22) with PaiNN. Run from the project folder
after script1:

    python benchmarks/bench_ladder_knobs.py            # all variants, two side by side (~25 min)
    python benchmarks/bench_ladder_knobs.py l1 bs16    # only these

Finished trainings are reused from results/bench_ladder_knobs/ (delete it to measure again). The
numbers are the same on every machine (fixed seeds); the times are this machine's.
"""

from schnet_tutorial.helpers import dataset, pipeline, workers  # isort: skip (first: it quiets SchNetPack's import)
import sys

from common.runs import DATABASE, RESULTS_DIR

STEPS = 5000
VARIANTS = {
    "minute": {},  # lr 1e-2 with a cosine to 1e-4, batch 8, AdamW (weight decay 0.01), 0.01/0.99 MSE
    "lr_final_1e-3": {"LR_FINAL": 0.001},
    "lr_2e-2": {"LEARNING_RATE": 0.02},
    "batch_16": {"BATCH_SIZE": 16},
    "interactions_2": {"N_INTERACTIONS": 2},
    "energy_weight_0.05": {"ENERGY_WEIGHT": 0.05, "FORCE_WEIGHT": 0.95},
    "energy_weight_0.001": {"ENERGY_WEIGHT": 0.001, "FORCE_WEIGHT": 0.999},
    "energy_weight_0.0001": {"ENERGY_WEIGHT": 0.0001, "FORCE_WEIGHT": 0.9999},
    "l1": {"LOSS": "l1"},
}

train_idx, val_idx, test_idx = dataset.split(dataset.count_frames(DATABASE), 1000, 200, 500, seed=0)
chosen = sys.argv[1:] or list(VARIANTS)
jobs = {
    name: workers.job(
        train_idx,
        val_idx,
        test_idx,
        STEPS,
        0,
        **{**pipeline.SCHNET_SLIDES, "MODEL": "painn", **VARIANTS[name]},
    )
    for name in chosen
}
results = workers.run_all(jobs, RESULTS_DIR / "bench_ladder_knobs", workers=2)
print(f"PaiNN, 1,000 frames, {STEPS} steps: test MAE (energy kcal/mol, forces kcal/mol/Å), training time")
for name, r in results.items():
    print(
        f"  {name:22s} forces {r['force_mae_kcal_mol_A']:.3f}  energy {r['energy_mae_kcal_mol']:.3f}  "
        f"{r['train_s']:5.0f} s ({1000 * r['train_s'] / r['steps']:.0f} ms/step)"
    )
