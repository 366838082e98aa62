"""Fine-tuned SO3LR given about 10 minutes: one more point of the time-to-accuracy benchmark (issue 28).

script4's ladder split (1,000 training, 200 validation, 500 test frames of
``dataset.split(2000, 1000, 200, 500, 0)``), the bundled SO3LR with its per-element energy shifts
refitted on the training frames, fine-tuned with the library's own entry point (script8's
``foundation.finetune``: a cosine learning rate over the epochs, one thread), then tested on the 500
test frames. Needs ``pip install -r requirements-foundation.txt`` and the database of script1.

    python benchmarks/bench_foundation.py                      # naive, 6 epochs of 1,000 frames
    python benchmarks/bench_foundation.py --choices naive lora --epochs 6

The training time is the library's own per-epoch timing summed; it depends on what else runs on the
machine (``uptime`` is printed beside it). Finished runs are reused from
results/bench_foundation/ (delete it to measure again).
"""

from schnet_tutorial.helpers import dataset, foundation  # isort: skip (first: it quiets SchNetPack's import)
import argparse
import os
import time

import torch

from common.runs import DATABASE, RESULTS_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--choices", nargs="+", default=["naive"], choices=sorted(foundation.CHOICES))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=5)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    foundation.require()
    train_idx, val_idx, test_idx = dataset.split(dataset.count_frames(DATABASE), 1000, 200, 500, 0)
    train, valid = foundation.to_atoms(DATABASE, train_idx), foundation.to_atoms(DATABASE, val_idx)
    test = foundation.to_atoms(DATABASE, test_idx)
    folder = RESULTS_DIR / "bench_foundation"
    folder.mkdir(parents=True, exist_ok=True)
    model = foundation.load()
    foundation.refit_shifts(model, train, foundation.predict(model, train)[0])
    zero = foundation.errors(*foundation.predict(model, test), test)
    start = folder / "start.model"
    torch.save(model, start)
    steps = args.epochs * -(-len(train) // args.batch_size)
    jobs = {
        choice: (
            foundation.config(choice, steps, len(train), args.batch_size, args.learning_rate, 0),
            train,
            valid[:50],
            start,
        )
        for choice in args.choices
    }
    t0 = time.perf_counter()
    results = foundation.finetune(jobs, folder / "runs", test, args.workers)
    print(
        f"zero-shot (shifts refitted): force MAE {zero['force_mae_kcal_mol_A']:.3f} kcal/mol/Å, "
        f"energy MAE {zero['energy_mae_kcal_mol']:.3f} kcal/mol"
    )
    for choice, r in results.items():
        print(
            f"{choice}: N=1000, {r['epochs']} epochs, batch {args.batch_size}: test force MAE "
            f"{r['force_mae_kcal_mol_A']:.3f} kcal/mol/Å, energy MAE {r['energy_mae_kcal_mol']:.3f} "
            "kcal/mol, "
            f"training {r['train_s']:.0f} s (library's timing)"
        )
    print(f"wall {time.perf_counter() - t0:.0f} s; load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
