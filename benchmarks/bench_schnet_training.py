"""Benchmark (issue 4; the minute of slides 16-17): script2's training against SchNetPack's own tutorial.

On the same data (the bundled ethanol PBE set, its database built in a temporary folder), the same
split (1,000 training / 500 validation / 500 test frames, script2's seed) and in the same run:
  tutorial lr 1e-4  SchNetPack's force-model tutorial (examples/tutorials/tutorial_03_force_models):
                    AtomsDataModule with batch 10 and the ASENeighborList transform computed on the
                    fly for every frame of every epoch (num_workers=1), SchNet with 30 features,
                    3 interactions, 20 Gaussians, cutoff 5 Å, loss 0.01 x energy + 0.99 x forces,
                    AdamW lr 1e-4, ModelCheckpoint, 5 epochs
  tutorial lr 1e-3  the same with a 10x larger learning rate
  script2           script2_train_schnet.py at its defaults, run exactly as a student runs it
  PaiNN, same epochs        script2 --model painn (everything else the same)
  PaiNN, same time          script2 --model painn --epochs N, N epochs taking SchNet's training time
Each runs in a fresh Python process. Printed per pipeline: training throughput (frames trained per
second of trainer.fit, validation and on-the-fly data loading included), fit time, the process's
whole wall time, and the test energy and force MAE of the saved best model on the same 500 test
frames. Then the throughput ratio script2 / tutorial (target >= 3) and the PaiNN vs SchNet
comparison. Timings on a shared CPU are noisy: compare ratios from one run; --repeats N repeats the
tutorial/script2 pair N times (interleaved) and reports the median ratio. The main PyTorch process
of every pipeline uses --threads threads (default 1, script2's default).

Usage
  python benchmarks/bench_schnet_training.py                 # everything (about 4 minutes)
  python benchmarks/bench_schnet_training.py --no-painn      # tutorial vs script2 only
  python benchmarks/bench_schnet_training.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT2 = ROOT / "schnet_tutorial" / "script2_train_schnet.py"
KCAL = 23.060548  # kcal/mol per eV
TARGET_RATIO = 3.0
TARGET_FORCE_MAE = 0.85  # kcal/mol/Å


# ------------------------------------------------------------------------------------------------
# Worker: SchNetPack's tutorial pipeline (run in its own process)
# ------------------------------------------------------------------------------------------------
def tutorial_worker(args) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    import logging

    logging.disable(logging.WARNING)
    import numpy as np
    import pytorch_lightning as pl
    import schnetpack as spk
    import schnetpack.transform as trn
    import torch
    import torchmetrics
    from pytorch_lightning.loggers import TensorBoardLogger

    from schnet_tutorial.helpers import dataset, model_files  # isort: skip (first: it quiets SchNetPack's import)
    from common.mlp import count_parameters

    torch.set_num_threads(args.threads)
    pl.seed_everything(0, verbose=False)
    out = Path(args.out)
    split = np.load(args.split)
    # --- the tutorial's code, with our database and split instead of MD17's download ---
    data = spk.data.AtomsDataModule(
        args.db,
        batch_size=10,
        num_train=len(split["train_idx"]),
        num_val=len(split["val_idx"]),
        split_file=args.split,
        property_units={"energy": "eV", "forces": "eV/Ang"},
        transforms=[
            trn.ASENeighborList(cutoff=5.0),
            trn.RemoveOffsets("energy", remove_mean=True, remove_atomrefs=False),
            trn.CastTo32(),
        ],
        num_workers=1,
        pin_memory=False,
    )
    data.prepare_data()
    data.setup()
    cutoff, n_atom_basis = 5.0, 30
    schnet = spk.representation.SchNet(
        n_atom_basis=n_atom_basis,
        n_interactions=3,
        radial_basis=spk.nn.GaussianRBF(n_rbf=20, cutoff=cutoff),
        cutoff_fn=spk.nn.CosineCutoff(cutoff),
    )
    nnpot = spk.model.NeuralNetworkPotential(
        representation=schnet,
        input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[
            spk.atomistic.Atomwise(n_in=n_atom_basis, output_key="energy"),
            spk.atomistic.Forces(energy_key="energy", force_key="forces"),
        ],
        postprocessors=[trn.CastTo64(), trn.AddOffsets("energy", add_mean=True, add_atomrefs=False)],
    )
    outputs = [
        spk.task.ModelOutput(
            name=name,
            loss_fn=torch.nn.MSELoss(),
            loss_weight=w,
            metrics={"MAE": torchmetrics.MeanAbsoluteError()},
        )
        for name, w in (("energy", 0.01), ("forces", 0.99))
    ]
    task = spk.task.AtomisticTask(
        model=nnpot, outputs=outputs, optimizer_cls=torch.optim.AdamW, optimizer_args={"lr": args.lr}
    )
    model_path = out / "best_inference_model"
    trainer = pl.Trainer(
        callbacks=[spk.train.ModelCheckpoint(model_path=str(model_path), save_top_k=1, monitor="val_loss")],
        logger=TensorBoardLogger(save_dir=str(out)),
        default_root_dir=str(out),
        max_epochs=args.epochs,
        accelerator="cpu",
        enable_progress_bar=False,
    )
    t0 = time.perf_counter()
    trainer.fit(task, datamodule=data)
    fit_s = time.perf_counter() - t0
    # --- test the best model on the shared test frames (inputs as script2 makes them) ---
    best = model_files.load_model(model_path)
    (inputs,) = dataset.load_inputs(args.db, cutoff, split["test_idx"])
    energies = np.array([d["energy"].item() for d in inputs])
    f_ref = np.concatenate([d["forces"].numpy() for d in inputs])
    e_pred, f_pred = model_files.predict_energy_forces(best, [trn.CastTo32()(d) for d in inputs])
    print(
        "RESULT "
        + json.dumps(
            {
                "epochs": trainer.current_epoch,
                "fit_s": fit_s,
                "frames_per_s": trainer.current_epoch * len(split["train_idx"]) / fit_s,
                "energy_mae_eV": float(np.abs(e_pred - energies).mean()),
                "force_mae_eV_per_A": float(np.abs(f_pred - f_ref).mean()),
                "params": count_parameters(nnpot),
            }
        ),
        flush=True,
    )


# ------------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------------
def run(cmd, cwd, env=None) -> tuple[float, str]:
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1", **(env or {}))
    env.pop("ML_TUTORIAL_QUICK", None)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, *map(str, cmd)], cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        print(res.stdout[-3000:], res.stderr[-3000:], sep="\n")
        raise SystemExit(f"bench_schnet_training.py: {cmd[0]} failed (exit code {res.returncode})")
    return wall, res.stdout


def run_tutorial(lr, work, db, split, args, tag) -> dict:
    out = work / tag
    out.mkdir()
    wall, stdout = run(
        [
            __file__,
            "--worker",
            "tutorial",
            "--lr",
            lr,
            "--db",
            db,
            "--split",
            split,
            "--out",
            out,
            "--threads",
            args.threads,
            "--epochs",
            args.tutorial_epochs,
        ],
        cwd=out,
    )
    result = json.loads(stdout.split("RESULT ", 1)[1].splitlines()[0])
    return dict(result, wall_s=wall)


def run_script2(work, db, args, tag, *extra) -> dict:
    out = work / tag
    out.mkdir()
    wall, stdout = run(
        [SCRIPT2, "--db-path", db, "--n-threads", args.threads, *extra],
        cwd=out,
        env={"ML_TUTORIAL_OUTPUT": str(out)},
    )
    m = re.search(r"trained (\d+) epochs in ([\d.]+) s \((\d+) frames/s", stdout)
    e = re.search(r"test energy MAE [\d.]+ kcal/mol \(([\d.]+) meV\)", stdout)
    f = re.search(r"test force MAE [\d.]+ kcal/mol/Å \(([\d.]+) meV/Å\)", stdout)
    p = re.search(r"([\d,]+) trainable parameters", stdout)
    return {
        "epochs": int(m.group(1)),
        "fit_s": float(m.group(2)),
        "frames_per_s": float(m.group(3)),
        "energy_mae_eV": float(e.group(1)) / 1000,
        "force_mae_eV_per_A": float(f.group(1)) / 1000,
        "params": int(p.group(1).replace(",", "")),
        "wall_s": wall,
    }


def row(name, r) -> str:
    return (
        f"  {name:34s} {r['epochs']:4d} {r['fit_s']:7.1f} {r['frames_per_s']:8.0f} {r['wall_s']:7.1f}"
        f"   {r['energy_mae_eV'] * KCAL:6.2f} ({r['energy_mae_eV'] * 1000:5.1f})"
        f"   {r['force_mae_eV_per_A'] * KCAL:6.2f} ({r['force_mae_eV_per_A'] * 1000:6.1f})"
        f" {r['params']:8,d}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", choices=["tutorial"], help=argparse.SUPPRESS)
    p.add_argument("--lr", type=float, default=1e-4, help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    p.add_argument("--split", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--epochs", type=int, default=5, help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help="PyTorch threads of every pipeline")
    p.add_argument("--tutorial-epochs", type=int, default=5, help="epochs of the tutorial (5)")
    p.add_argument("--repeats", type=int, default=1, help="tutorial/script2 pairs (median ratio)")
    p.add_argument("--no-painn", action="store_true", help="skip the PaiNN runs")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = p.parse_args()
    if args.worker:
        tutorial_worker(args)
        return

    import numpy as np

    from schnet_tutorial.helpers import dataset  # isort: skip (first: it quiets SchNetPack's import)

    load0 = os.getloadavg()[0]
    print(
        f"bench_schnet_training.py: {os.cpu_count()} CPU cores, load average {load0:.2f}, "
        f"{args.threads} PyTorch thread(s) per pipeline"
    )
    work = Path(tempfile.mkdtemp(prefix="bench_training_"))
    try:
        db = work / "ethanol.db"
        dataset.build_database(dataset.read_frames(dataset.DATA_FILE), db)
        n = dataset.count_frames(db)
        train_idx, val_idx, test_idx = dataset.split(n, 1000, 500, 0, seed=0)  # script2's split
        split = work / "split.npz"
        np.savez(split, train_idx=train_idx, val_idx=val_idx, test_idx=test_idx)
        print(
            f"data: {n} frames of the bundled PBE set; 1000 training, 500 validation, "
            f"{len(test_idx)} test frames (the same for every pipeline)\n"
        )
        # script2's speed trick, measured: the model inputs (neighbour lists included) of the 1000
        # training frames through SchNetPack's dataset + ASENeighborList transform, as its tutorial
        # computes them in every epoch, against dataset.load_inputs once for all frames
        import schnetpack as spk
        import schnetpack.transform as trn

        data = spk.data.ASEAtomsData(str(db), transforms=[trn.ASENeighborList(cutoff=5.0), trn.CastTo32()])
        t0 = time.process_time()
        for i in train_idx:
            data[int(i)]
        per_epoch = time.process_time() - t0
        t0 = time.process_time()
        dataset.load_inputs(db, 5.0, train_idx, val_idx, test_idx)
        once = time.process_time() - t0
        print(
            f"model inputs: ASEAtomsData + ASENeighborList {per_epoch:.2f} s CPU per epoch of 1000 frames "
            f"(x 30 epochs: {30 * per_epoch:.0f} s); dataset.load_inputs {once:.2f} s once,"
            f" all {n} frames\n"
        )

        results, ratios = {}, []
        for k in range(args.repeats):
            tut = run_tutorial(1e-4, work, db, split, args, f"tutorial_{k}")
            ours = run_script2(work, db, args, f"script2_{k}")
            ratios.append(ours["frames_per_s"] / tut["frames_per_s"])
            print(
                f"  round {k + 1}: tutorial {tut['frames_per_s']:.0f} frames/s, script2 "
                f"{ours['frames_per_s']:.0f} frames/s: ratio {ratios[-1]:.1f} x",
                flush=True,
            )
            results.setdefault("SchNetPack tutorial, lr 1e-4", tut)
            results.setdefault("script2 (SchNet, defaults)", ours)
        results["SchNetPack tutorial, lr 1e-3"] = run_tutorial(1e-3, work, db, split, args, "tut_lr3")
        print("  tutorial with lr 1e-3 done", flush=True)
        schnet = results["script2 (SchNet, defaults)"]
        if not args.no_painn:
            results["script2 --model painn, same epochs"] = run_script2(
                work, db, args, "painn", "--model", "painn"
            )
            print("  PaiNN (same epochs) done", flush=True)
            # as many PaiNN epochs as fit into SchNet's training time (a whole cosine schedule)
            pe = results["script2 --model painn, same epochs"]
            n_epochs = max(1, round(schnet["fit_s"] / (pe["fit_s"] / pe["epochs"])))
            results["script2 --model painn, same time"] = run_script2(
                work, db, args, "painn_time", "--model", "painn", "--epochs", n_epochs
            )
            print("  PaiNN (same training time) done", flush=True)

        print(
            f"\n  {'pipeline':34s} {'ep':>4s} {'fit s':>7s} {'frames/s':>8s} {'wall s':>7s}"
            f"   {'E MAE kcal/mol (meV)':20s} {'F MAE kcal/mol/Å (meV/Å)':24s} {'params':>6s}"
        )
        for name, r in results.items():
            print(row(name, r))
        tut = results["SchNetPack tutorial, lr 1e-4"]
        ratio = statistics.median(ratios)
        rounds = f"median of {len(ratios)} rounds: " + ", ".join(f"{r:.1f}" for r in ratios)
        rounds = rounds if len(ratios) > 1 else "one round"
        print(
            f"\nTraining throughput script2 / tutorial: {ratio:.1f} x "
            f"({rounds}; "
            f"target >= {TARGET_RATIO:.0f} x: {'met' if ratio >= TARGET_RATIO else 'MISSED'})"
        )
        print(
            f"Test force MAE of script2: {schnet['force_mae_eV_per_A'] * KCAL:.2f} kcal/mol/Å "
            f"(target <= {TARGET_FORCE_MAE} kcal/mol/Å: "
            f"{'met' if schnet['force_mae_eV_per_A'] * KCAL <= TARGET_FORCE_MAE else 'MISSED'}) vs "
            f"{tut['force_mae_eV_per_A'] * KCAL:.2f} for the tutorial (lr 1e-4) and "
            f"{results['SchNetPack tutorial, lr 1e-3']['force_mae_eV_per_A'] * KCAL:.2f} (lr 1e-3); "
            f"script2's whole process took {schnet['wall_s']:.1f} s"
        )
        if not args.no_painn:
            pe, pt = (
                results["script2 --model painn, same epochs"],
                results["script2 --model painn, same time"],
            )
            print(
                f"PaiNN vs SchNet: {pe['params']:,} vs {schnet['params']:,} parameters; "
                f"{schnet['frames_per_s'] / pe['frames_per_s']:.1f} x the cost per frame; "
                f"same epochs: force MAE {pe['force_mae_eV_per_A'] * KCAL:.2f} vs "
                f"{schnet['force_mae_eV_per_A'] * KCAL:.2f} kcal/mol/Å; same training time "
                f"({pt['epochs']} PaiNN epochs): {pt['force_mae_eV_per_A'] * KCAL:.2f} kcal/mol/Å"
            )
        print(f"(load average {load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end)")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
