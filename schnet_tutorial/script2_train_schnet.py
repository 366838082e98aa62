"""script2_train_schnet.py: slides "Message passing neural networks" and "Getting to MD in 1 minute".

Trains a SchNet (or PaiNN) force field on 1,000 ethanol frames (PBE/def2-SVP) with SchNetPack and
PyTorch Lightning, then tests it once on the held-out frames.

The architecture, tied to the Lennard-Jones lessons:
  * atom types are categories: SchNet starts from a learned embedding of the atomic number (what the
    one-hot descriptor of slide 4 becomes when the network learns the vector for each element);
  * interatomic distances are continuous: they are expanded in a Gaussian radial basis (slide 4's
    phi_k(r)), which feeds small networks that make continuous filters; in each interaction block an
    atom's features are updated by a message from every neighbour within the cutoff, weighted by the
    filter of their distance (message passing);
  * after the interactions an atomwise MLP (slide 5) gives each atom an energy; the sum is E, and the
    forces are F = -dE/dR by automatic differentiation, so they are exactly the gradient of E.
The cost is a weighted MSE of energies and forces (slide 6); AdamW finds the parameters (slide 7),
keeping the model of the best validation loss (slide 9).

What to look for: the parameter count, the test errors (energy MAE/RMSE in kcal/mol and meV, forces in
kcal/mol/Å and meV/Å) and figures/schnet_parity.png: predicted vs DFT energies and force components of
the test frames, on the diagonal when the model is good. TensorBoard (runs/) shows the losses.
MODEL = "painn" switches to PaiNN, an equivariant network (state of the art; more accurate per epoch,
more costly per step).

Lightning gives GPUs and clusters for free: ACCELERATOR = "gpu" (or "auto"), DEVICES = 4 for four
GPUs, NUM_NODES = 2 for two nodes (run under SLURM with srun); see the README.
"""

# %% Settings (edit, or override on the command line: --epochs 20 --model painn)
N_TRAIN, N_VAL = 1000, 500   # frames; the rest of the data set is the test set
EPOCHS = 30                  # at most; TIME_BUDGET_S may stop earlier
TIME_BUDGET_S = 30.0         # stop training after this many seconds (0 = no limit)
MODEL = "schnet"             # "schnet" or "painn"
N_FEATURES = 64              # atom feature size
N_INTERACTIONS = 3           # message-passing blocks
CUTOFF = 5.0                 # Å
N_RBF = 20                   # Gaussian radial basis functions
LEARNING_RATE = 2e-3
LR_DECAY = 0.95              # learning rate multiplied by this every epoch
BATCH_SIZE = 16
ENERGY_WEIGHT, FORCE_WEIGHT = 0.05, 0.95   # weights of the energy and force MSE in the cost
SEED = 0
ACCELERATOR = "cpu"          # "cpu", "gpu" or "auto"
DEVICES = 1
NUM_NODES = 1
PROGRESS_BAR = False         # Lightning progress bar (True in a terminal is nice; costs time here)
DB_PATH = ""                 # "" = data/ethanol.db made by script1
MODELS_DIR = ""              # "" = schnet_tutorial/models
RUNS_DIR = ""                # "" = runs/
QUICK = {"N_TRAIN": 20, "N_VAL": 10, "EPOCHS": 1, "N_FEATURES": 16, "N_INTERACTIONS": 1}

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import schnet_common as sc  # noqa: E402
from common import cli  # noqa: E402

cli.apply_overrides(globals(), quick=QUICK)
cli.check_choice("MODEL", MODEL, ["schnet", "painn"])
cli.check(N_TRAIN >= 1 and N_VAL >= 1, f"N_TRAIN and N_VAL must be >= 1, got {N_TRAIN}, {N_VAL}")
cli.check(EPOCHS >= 1, f"EPOCHS must be >= 1, got {EPOCHS}")
cli.check(TIME_BUDGET_S >= 0, f"TIME_BUDGET_S must be >= 0, got {TIME_BUDGET_S}")
cli.check(min(N_FEATURES, N_INTERACTIONS, N_RBF, BATCH_SIZE) >= 1,
          "N_FEATURES, N_INTERACTIONS, N_RBF and BATCH_SIZE must be >= 1")
cli.check(CUTOFF > 0, f"CUTOFF must be > 0 Å, got {CUTOFF}")
cli.check(LEARNING_RATE > 0, f"LEARNING_RATE must be > 0, got {LEARNING_RATE}")
cli.check(0 < LR_DECAY <= 1, f"LR_DECAY must be in (0, 1], got {LR_DECAY}")
cli.check(ENERGY_WEIGHT >= 0 and FORCE_WEIGHT >= 0 and ENERGY_WEIGHT + FORCE_WEIGHT > 0,
          "ENERGY_WEIGHT and FORCE_WEIGHT must be >= 0, not both 0")
cli.check_choice("ACCELERATOR", ACCELERATOR, ["cpu", "gpu", "auto"])

db_path = Path(DB_PATH) if DB_PATH else sc.DB_PATH
if not db_path.is_file():
    cli.fail(f"database {db_path} not found: run script1_prepare_data.py first")

import datetime  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytorch_lightning as pl  # noqa: E402
import schnetpack as spk  # noqa: E402
import schnetpack.transform as trn  # noqa: E402
import torch  # noqa: E402
import torchmetrics  # noqa: E402
from pytorch_lightning.loggers import TensorBoardLogger  # noqa: E402

from common.plotting import save_figure, show  # noqa: E402
from common.runs import new_run_dir  # noqa: E402

if "OMP_NUM_THREADS" not in os.environ:
    torch.set_num_threads(min(2, os.cpu_count() or 1))
pl.seed_everything(SEED, verbose=False)
t_start = time.perf_counter()

# %% 1 Data: load, split, and compute the model inputs (neighbour lists) once, in memory
try:
    dataset = spk.data.load_dataset(str(db_path), spk.data.AtomsDataFormat.ASE,
                                    property_units={"energy": "eV", "forces": "eV/Ang"})
    n_frames = len(dataset)
except Exception as exc:
    cli.fail(f"cannot read database {db_path} ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}): "
             "rebuild it with script1_prepare_data.py --force true")
if N_TRAIN + N_VAL >= n_frames:
    cli.fail(f"N_TRAIN + N_VAL = {N_TRAIN + N_VAL} leaves no test frames of {n_frames}; lower them")
perm = np.random.default_rng(SEED).permutation(n_frames)
train_idx, val_idx, test_idx = perm[:N_TRAIN], perm[N_TRAIN:N_TRAIN + N_VAL], perm[N_TRAIN + N_VAL:]
energies = np.array([float(dataset[int(i)]["energy"][0]) for i in train_idx])
n_atoms = len(dataset[0]["_atomic_numbers"])
mean_per_atom = torch.tensor([energies.mean() / n_atoms])
dataset.transforms = [
    trn.ASENeighborList(cutoff=CUTOFF),
    trn.RemoveOffsets("energy", remove_mean=True, property_mean=mean_per_atom),
    trn.CastTo32(),
]
cache = {int(i): dataset[int(i)] for i in perm}   # neighbour lists computed once, not every epoch
train_loader = spk.data.AtomsLoader([cache[int(i)] for i in train_idx], batch_size=BATCH_SIZE,
                                    shuffle=True)
val_loader = spk.data.AtomsLoader([cache[int(i)] for i in val_idx], batch_size=100)
print(f"{n_frames} frames of {n_atoms} atoms: {len(train_idx)} training, {len(val_idx)} validation, "
      f"{len(test_idx)} test")

# %% 2 Model
radial_basis = spk.nn.GaussianRBF(n_rbf=N_RBF, cutoff=CUTOFF)
if MODEL == "schnet":
    representation = spk.representation.SchNet(n_atom_basis=N_FEATURES, n_interactions=N_INTERACTIONS,
                                               radial_basis=radial_basis,
                                               cutoff_fn=spk.nn.CosineCutoff(CUTOFF))
else:
    representation = spk.representation.PaiNN(n_atom_basis=N_FEATURES, n_interactions=N_INTERACTIONS,
                                              radial_basis=radial_basis,
                                              cutoff_fn=spk.nn.CosineCutoff(CUTOFF))
model = spk.model.NeuralNetworkPotential(
    representation=representation,
    input_modules=[spk.atomistic.PairwiseDistances()],
    output_modules=[spk.atomistic.Atomwise(n_in=N_FEATURES, output_key="energy"),
                    spk.atomistic.Forces(energy_key="energy", force_key="forces")],
    postprocessors=[trn.CastTo64(), trn.AddOffsets("energy", add_mean=True, property_mean=mean_per_atom)],
)
n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
print(f"{MODEL}: {N_INTERACTIONS} interactions, {N_FEATURES} features, {N_RBF} Gaussians, cutoff "
      f"{CUTOFF} Å: {n_params:,} trainable parameters")

# %% 3 Cost function: weighted MSE of energies (eV) and forces (eV/Å)
outputs = [
    spk.task.ModelOutput(name="energy", loss_fn=torch.nn.MSELoss(), loss_weight=ENERGY_WEIGHT,
                         metrics={"MAE": torchmetrics.MeanAbsoluteError()}),
    spk.task.ModelOutput(name="forces", loss_fn=torch.nn.MSELoss(), loss_weight=FORCE_WEIGHT,
                         metrics={"MAE": torchmetrics.MeanAbsoluteError()}),
]

# %% 4 Find the parameters
stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
models_root = Path(MODELS_DIR) if MODELS_DIR else sc.MODELS_DIR
model_dir = new_run_dir(models_root, f"{MODEL}_{stamp}")          # never overwrites an earlier model
model_path = model_dir / "best_model"
np.savez(model_dir / "split.npz", train_idx=train_idx, val_idx=val_idx, test_idx=test_idx)
task = spk.task.AtomisticTask(
    model=model, outputs=outputs, optimizer_cls=torch.optim.AdamW,
    optimizer_args={"lr": LEARNING_RATE, "foreach": False},  # torch 2.14: foreach is slow on CPU here
    scheduler_cls=torch.optim.lr_scheduler.ExponentialLR, scheduler_args={"gamma": LR_DECAY},
)
runs_root = Path(RUNS_DIR) if RUNS_DIR else sc.RUNS_DIR
trainer = pl.Trainer(
    max_epochs=EPOCHS,
    max_time=datetime.timedelta(seconds=TIME_BUDGET_S) if TIME_BUDGET_S else None,
    accelerator=ACCELERATOR, devices=DEVICES, num_nodes=NUM_NODES,
    inference_mode=False,          # forces need gradients also when validating and testing
    logger=TensorBoardLogger(str(runs_root), name=f"schnet_{model_dir.name}", version=""),
    callbacks=[spk.train.ModelCheckpoint(model_path=str(model_path), monitor="val_loss",
                                         save_top_k=1, dirpath=str(model_dir / "checkpoints"))],
    num_sanity_val_steps=0, enable_model_summary=False, log_every_n_steps=20,
    enable_progress_bar=PROGRESS_BAR,
)
t_train = time.perf_counter()
trainer.fit(task, train_dataloaders=train_loader, val_dataloaders=val_loader)
train_s = time.perf_counter() - t_train
epochs_done = trainer.current_epoch
print(f"trained {epochs_done} epochs in {train_s:.1f} s "
      f"({epochs_done * len(train_idx) / train_s:.0f} frames/s); best model: {model_path}")

# %% 5 Look at the result: test once on the held-out frames
best = torch.load(model_path, weights_only=False, map_location="cpu")
test_loader = spk.data.AtomsLoader([cache[int(i)] for i in test_idx], batch_size=100)
e_pred, e_ref, f_pred, f_ref = [], [], [], []
for batch in test_loader:
    ref_e = batch["energy"].double() + float(mean_per_atom) * n_atoms   # the offset back on
    ref_f = batch["forces"].clone()
    out = best(batch)
    e_pred.append(out["energy"].detach()), e_ref.append(ref_e)
    f_pred.append(out["forces"].detach()), f_ref.append(ref_f)
e_pred, e_ref = torch.cat(e_pred).numpy(), torch.cat(e_ref).numpy()
f_pred, f_ref = torch.cat(f_pred).numpy().ravel(), torch.cat(f_ref).numpy().ravel()
k = sc.EV_TO_KCAL_PER_MOL
e_mae, e_rmse = np.abs(e_pred - e_ref).mean(), np.sqrt(((e_pred - e_ref) ** 2).mean())
f_mae, f_rmse = np.abs(f_pred - f_ref).mean(), np.sqrt(((f_pred - f_ref) ** 2).mean())
print(f"test energy MAE {e_mae * k:.3f} kcal/mol ({e_mae * 1000:.1f} meV), RMSE {e_rmse * k:.3f} "
      f"kcal/mol ({e_rmse * 1000:.1f} meV)")
print(f"test force MAE {f_mae * k:.3f} kcal/mol/Å ({f_mae * 1000:.1f} meV/Å), RMSE {f_rmse * k:.3f} "
      f"kcal/mol/Å ({f_rmse * 1000:.1f} meV/Å)")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.5))
ax1.plot(e_ref - e_ref.mean(), e_pred - e_ref.mean(), ".", ms=3)
lim = [min(ax1.get_xlim()[0], ax1.get_ylim()[0]), max(ax1.get_xlim()[1], ax1.get_ylim()[1])]
ax1.plot(lim, lim, "k--", lw=1)
ax1.set(xlabel="DFT energy - mean (eV)", ylabel="model energy - mean (eV)",
        title=f"energy, MAE {e_mae * 1000:.1f} meV ({e_mae * k:.2f} kcal/mol)")
ax2.plot(f_ref, f_pred, ".", ms=1, alpha=0.5)
lim = [min(f_ref.min(), f_pred.min()), max(f_ref.max(), f_pred.max())]
ax2.plot(lim, lim, "k--", lw=1)
ax2.set(xlabel="DFT force component (eV/Å)", ylabel="model force component (eV/Å)",
        title=f"forces, MAE {f_mae * 1000:.0f} meV/Å ({f_mae * k:.2f} kcal/mol/Å)")
fig.suptitle(f"{MODEL}, {len(test_idx)} test frames")
save_figure(fig, "schnet_parity")
show()
print(f"model saved: {model_path} (total {time.perf_counter() - t_start:.1f} s); next: script3_run_md.py")
