"""What each knob of a PaiNN training buys: test force MAE after the same number of optimizer steps.

PaiNN (64 features, 3 interactions) on 1,000 ethanol frames, script4's split (the first 500 frames
of its shuffle are the test set, the next 200 validation, training = the first 1,000 of the rest),
5,000 optimizer steps each; one knob changed from the minute's settings (trainings.DEFAULTS) per
line. Run from the project folder after script1:

    python benchmarks/bench_ladder_knobs.py            # all variants, two side by side (~25 min)
    python benchmarks/bench_ladder_knobs.py l1 bs16    # only these

Finished trainings are reused from results/bench_ladder_knobs/ (delete it to measure again). The
numbers are the same on every machine (fixed seeds); the times are this machine's.
"""

import sys

from common.runs import DATABASE, RESULTS_DIR
from schnet_tutorial import tools, trainings

STEPS = 5000
VARIANTS = {
    "minute": {},  # lr 1e-2 with a cosine to 1e-4, batch 8, AdamW (weight decay 0.01), 0.01/0.99 MSE
    "weight_decay_0": {"weight_decay": 0.0},
    "lr_final_1e-3": {"lr_final": 0.001},
    "lr_2e-2": {"learning_rate": 0.02},
    "lr_2e-2_warmup": {"learning_rate": 0.02, "warmup_steps": 1000},
    "batch_16": {"batch_size": 16},
    "interactions_2": {"n_interactions": 2},
    "energy_weight_0.05": {"energy_weight": 0.05, "force_weight": 0.95},
    "energy_weight_0.001": {"energy_weight": 0.001, "force_weight": 0.999},
    "energy_weight_0.0001": {"energy_weight": 0.0001, "force_weight": 0.9999},
    "l1": {"loss": "l1"},
}

test_idx, val_idx, pool = trainings.split(tools.count_frames(DATABASE), 500, 200, seed=0)
base = {"model": "painn", "steps": STEPS, "train_idx": pool[:1000], "val_idx": val_idx, "test_idx": test_idx}
chosen = sys.argv[1:] or list(VARIANTS)
jobs = {name: {**base, **VARIANTS[name]} for name in chosen}
results = trainings.run_all(jobs, RESULTS_DIR / "bench_ladder_knobs", workers=2)
print(f"PaiNN, 1,000 frames, {STEPS} steps: test MAE (energy kcal/mol, forces kcal/mol/Å), training time")
for name, r in results.items():
    print(
        f"  {name:22s} forces {r['force_mae_kcal_mol_A']:.3f}  energy {r['energy_mae_kcal_mol']:.3f}  "
        f"{r['train_s']:5.0f} s ({1000 * r['train_s'] / r['steps']:.0f} ms/step)"
    )
