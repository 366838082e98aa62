"""MACE trained from scratch on the SchNet lessons' ethanol frames: test error against training time.

One training of a small MACE model (mace-torch's ScaleShiftMACE, no downloaded weights) on the frames
of the SchNet benchmarks: the database script1 builds (common.runs.DATABASE), split with
``dataset.split(n_frames, 1000, 200, 500, seed=0)`` (1,000 training, 200 validation, 500 test frames).
The loop is this script's own, with MACE's defaults: AMSGrad Adam, loss energy weight x MSE(energy per
atom) + force weight x MSE(forces) (eV, eV/Å), gradient clipping at 10, an EMA of the weights,
ReduceLROnPlateau (factor 0.8) on the validation loss of the EMA weights after every epoch (the
validation is part of the training: its time counts). Training stops when --time-s seconds of training
are spent. Every --eval-every-s seconds of training, and at the end, the EMA weights are tested on the
500 test frames (that time does not count); each point (train_s, steps, epochs, test force and energy
MAE in kcal/mol/Å and kcal/mol) is added to FOLDER/curve.json at once (an interrupted run keeps its
points), which bench_time_to_accuracy.py reads.

    pip install -r requirements-bench.txt        # mace-torch, for this script only
    python benchmarks/bench_mace.py --time-s 600
    python benchmarks/bench_mace.py --channels 64 --lmax 1 --time-s 1800 --seed 1
"""

from schnet_tutorial.helpers import dataset  # isort: skip (first: it quiets SchNetPack's import)
import argparse
import contextlib
import io
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import schnetpack.properties as P
import torch

from common.runs import DATABASE, RESULTS_DIR

warnings.filterwarnings("ignore", message=".*weights_only")  # e3nn's torch.load, allowed by mace
warnings.filterwarnings("ignore", message=".*TorchScript type system")  # e3nn's modules, scripted
with contextlib.redirect_stdout(io.StringIO()):  # mace prints "cuequivariance ... not available"
    import mace  # noqa: F401  isort: skip (first: it sets TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD, e3nn needs it)
    from e3nn import o3
    from mace import data as mace_data
    from mace import modules
    from mace.tools import torch_geometric
    from mace.tools.utils import AtomicNumberTable
from torch_ema import ExponentialMovingAverage


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--channels", type=int, default=32, help="channels of the hidden features")
    p.add_argument("--lmax", type=int, default=0, help="max_L of the hidden features")
    p.add_argument("--correlation", type=int, default=3, help="body order - 1 of the product basis")
    p.add_argument("--interactions", type=int, default=2)
    p.add_argument("--r-max", type=float, default=5.0, help="cutoff (Å)")
    p.add_argument("--num-bessel", type=int, default=8)
    p.add_argument("--num-polynomial-cutoff", type=int, default=5)
    p.add_argument("--float64", action="store_true", help="train in float64 (default float32)")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=5)
    p.add_argument("--energy-weight", type=float, default=1.0)
    p.add_argument("--force-weight", type=float, default=100.0)
    p.add_argument("--ema", type=float, default=0.99, help="EMA decay of the weights (0: no EMA)")
    p.add_argument("--patience", type=int, default=5, help="epochs without a better validation loss")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--time-s", type=float, default=600.0, help="training time budget (s)")
    p.add_argument("--eval-every-s", type=float, default=30.0, help="test every so many s of training")
    p.add_argument("--n-train", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0, help="weights and batch order (not the split)")
    p.add_argument("--out", type=Path, help="default results/bench_time_to_accuracy/mace_c{C}_L{L}_seed{S}")
    return p.parse_args()


def mace_graphs(frames, z_table, r_max):
    """MACE's graph (AtomicData) of each frame (dataset.load_inputs' dictionaries: Å, eV, eV/Å)."""
    graphs = []
    for d in frames:
        config = mace_data.Configuration(
            atomic_numbers=d[P.Z].numpy(),
            positions=d[P.R].numpy(),
            properties={"energy": d["energy"].item(), "forces": d["forces"].numpy()},
            property_weights={"energy": 1.0, "forces": 1.0},
            pbc=(False, False, False),
            cell=np.zeros((3, 3)),
        )
        graphs.append(mace_data.AtomicData.from_config(config, z_table=z_table, cutoff=r_max))
    return graphs


def errors(model, batch):
    """Errors of the model's energies per atom (eV) and of its forces (eV/Å) on one batch."""
    out = model(batch.to_dict(), training=model.training)
    n_atoms = batch.ptr[1:] - batch.ptr[:-1]
    return (out["energy"] - batch.energy) / n_atoms, out["forces"] - batch.forces, n_atoms


def evaluate(model, loader, args):
    """(loss, energy MAE kcal/mol, force MAE kcal/mol/Å) over all frames of the loader."""
    model.eval()
    e_errs, f_errs, sizes = [], [], []
    for batch in loader:
        e_err, f_err, n_atoms = errors(model, batch)
        e_errs.append(e_err.detach().double()), f_errs.append(f_err.detach().double()), sizes.append(n_atoms)
    model.train()
    e_err, f_err, n_atoms = torch.cat(e_errs), torch.cat(f_errs), torch.cat(sizes)
    loss = args.energy_weight * e_err.pow(2).mean() + args.force_weight * f_err.pow(2).mean()
    kcal = dataset.EV_TO_KCAL_PER_MOL
    return loss.item(), (e_err * n_atoms).abs().mean().item() * kcal, f_err.abs().mean().item() * kcal


def main():
    args = parse_args()
    name = f"mace_c{args.channels}_L{args.lmax}_seed{args.seed}"
    out = args.out or RESULTS_DIR / "bench_time_to_accuracy" / name
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float64 if args.float64 else torch.float32)
    torch.manual_seed(args.seed)

    train_idx, val_idx, test_idx = dataset.split(
        dataset.count_frames(DATABASE), args.n_train, 200, 500, seed=0
    )
    z_table = AtomicNumberTable([1, 6, 8])  # H, C, O
    frames = dataset.load_inputs(DATABASE, args.r_max, train_idx, val_idx, test_idx)
    train_set, val_set, test_set = (mace_graphs(f, z_table, args.r_max) for f in frames)
    loader = torch_geometric.DataLoader
    generator = torch.Generator().manual_seed(args.seed)
    train_loader = loader(train_set, batch_size=args.batch_size, shuffle=True, generator=generator)
    val_loader, test_loader = (loader(s, batch_size=50, shuffle=False) for s in (val_set, test_set))

    # Reference energies E0: the training frames' mean energy per atom for every element. Every frame is
    # ethanol (C2H6O): least squares cannot tell the elements apart, any E0s with the same sum per
    # molecule are equivalent. Then MACE's default scaling (rms_forces_scaling): the interaction energy
    # is scaled by the RMS of the training forces and shifted by the mean residual energy per atom.
    energies = np.array([g.energy.item() for g in train_set])
    n_atoms = np.array([g.num_nodes for g in train_set])
    e0 = energies.sum() / n_atoms.sum()
    shift = float(np.mean((energies - e0 * n_atoms) / n_atoms))
    scale = float(torch.cat([g.forces for g in train_set]).pow(2).mean().sqrt())
    hidden = o3.Irreps("+".join(f"{args.channels}x{lv}{'eo'[lv % 2]}" for lv in range(args.lmax + 1)))
    residual = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    model = modules.ScaleShiftMACE(
        r_max=args.r_max,
        num_bessel=args.num_bessel,
        num_polynomial_cutoff=args.num_polynomial_cutoff,
        max_ell=3,
        interaction_cls=residual,
        interaction_cls_first=residual,  # mace-torch 0.3.16's default for both
        num_interactions=args.interactions,
        num_elements=len(z_table),
        hidden_irreps=hidden,
        MLP_irreps=o3.Irreps("16x0e"),
        atomic_energies=np.full(len(z_table), e0),
        avg_num_neighbors=modules.compute_avg_num_neighbors(train_loader),
        atomic_numbers=z_table.zs,
        correlation=args.correlation,
        gate=torch.nn.functional.silu,
        radial_MLP=[64, 64, 64],
        atomic_inter_scale=scale,
        atomic_inter_shift=shift,
    )
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, amsgrad=True)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.8, patience=args.patience)
    ema = ExponentialMovingAverage(model.parameters(), decay=args.ema) if args.ema > 0 else None
    averaged = ema.average_parameters if ema else contextlib.nullcontext
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    settings["out"] = str(out)
    out.mkdir(parents=True, exist_ok=True)
    points, steps, epochs, train_s, val_s = [], 0, 0, 0.0, 0.0
    print(
        f"MACE {hidden}, {parameters:,} parameters; {len(train_set)} training frames, batch {args.batch_size}"
    )

    def record():
        with averaged():
            _, e_mae, f_mae = evaluate(model, test_loader, args)
        point = {"train_s": round(train_s, 2), "steps": steps, "epochs": round(steps / len(train_loader), 3)}
        points.append({**point, "force_mae_kcal_mol_A": f_mae, "energy_mae_kcal_mol": e_mae})
        print(
            f"  {train_s:7.1f} s {steps:6d} steps  test MAE: force {f_mae:.3f} kcal/mol/Å, energy {e_mae:.3f}"
        )
        tmp = out / f"curve.json.tmp{os.getpid()}"
        tmp.write_text(
            json.dumps({"settings": settings, "points": points, "parameters": parameters}, indent=1)
        )
        tmp.replace(out / "curve.json")

    next_eval, clock = args.eval_every_s, time.perf_counter()
    while train_s < args.time_s:
        for batch in train_loader:
            optimizer.zero_grad(set_to_none=True)
            e_err, f_err, _ = errors(model, batch)
            loss = args.energy_weight * e_err.pow(2).mean() + args.force_weight * f_err.pow(2).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimizer.step()
            if ema:
                ema.update()
            steps += 1
            train_s += time.perf_counter() - clock
            clock = time.perf_counter()
            if train_s >= args.time_s:
                break
            if train_s >= next_eval:
                record()  # not counted: the clock restarts after it
                next_eval += args.eval_every_s
                clock = time.perf_counter()
        else:  # a whole epoch: validation (counted as training time) for the learning rate schedule
            epochs += 1
            with averaged():
                scheduler.step(evaluate(model, val_loader, args)[0])
            took = time.perf_counter() - clock
            val_s, train_s, clock = val_s + took, train_s + took, clock + took
    record()
    print(
        f"{steps} steps, {epochs} whole epochs: {(train_s - val_s) / steps:.3f} s per step, validation "
        f"{val_s:.1f} s of the {train_s:.1f} s"
    )
    p = points[-1]
    print(
        f"result: force_mae_kcal_mol_A={p['force_mae_kcal_mol_A']:.4f} energy_mae_kcal_mol="
        f"{p['energy_mae_kcal_mol']:.4f} train_s={train_s:.1f} parameters={parameters}"
    )


if __name__ == "__main__":
    main()
