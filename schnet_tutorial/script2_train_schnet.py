"""script2_train_schnet.py: slides "Message passing neural networks" and "Getting to MD in 1 minute".

Trains a SchNet (or PaiNN) force field on 1,000 ethanol frames (PBE/def2-SVP) with SchNetPack and
PyTorch Lightning, then tests it once on the held-out frames.

The architecture, tied to the Lennard-Jones lessons:
  * atom types are categories: SchNet starts from a learned embedding of the atomic number, i.e. the
    one-hot descriptor of slide 4 multiplied by a trainable matrix (one learned vector per element);
  * interatomic distances are continuous: they are expanded in a Gaussian radial basis (slide 4's
    phi_k(r)), which feeds small networks that make continuous filters; in each interaction block an
    atom's features are updated by a message from every neighbour within the cutoff, weighted by the
    filter of their distance (message passing);
  * after the interactions an atomwise MLP (slide 5, with a smooth activation) gives each atom an
    energy; their sum is E, and the forces are F = -dE/dR by automatic differentiation, so they are
    exactly the gradient of the energy (as -dE/dr of the LJ model in lj_3).
The cost is a weighted MSE of energies and forces (slide 6); AdamW finds the parameters in mini-batches
(slides 7, 12), and the model of the best validation loss is kept (slide 9).

What to look for: the parameter count, the test errors (energy MAE/RMSE in kcal/mol and meV, forces in
kcal/mol/Å and meV/Å) and figures/schnet_parity.png: predicted vs DFT energies and force components of
the test frames, on the diagonal when the model is good. TensorBoard (tensorboard --logdir=runs) shows
the training and validation losses and the learning rate.
MODEL = "painn" switches to PaiNN, an equivariant network (state of the art: more accurate per epoch,
more costly per step).

Why it is fast: the neighbour lists are computed once and all data stay in memory (SchNetPack's own
tutorial recomputes them with ASE for every frame of every epoch), the batches are larger with a
larger learning rate that decays along a cosine, the loss favours forces (9 numbers per frame in
3 x 9 components instead of 1 energy), and the best weights are kept in memory instead of writing a
checkpoint file after every improvement.

Lightning gives GPUs and clusters for free: ACCELERATOR = "gpu" (or "auto"), DEVICES = 4 for four
GPUs, NUM_NODES = 2 for two nodes (start it with srun under SLURM); see the README.
"""

# %% Settings (edit, or override on the command line: --epochs 20 --model painn)
N_TRAIN, N_VAL = 1000, 500   # frames for training and validation
N_TEST = 0                   # frames for the test, from the rest (0 = all the rest)
EPOCHS = 30                  # passes over the training set
TIME_BUDGET_S = 0.0          # > 0: stop after this many seconds of training (the schedule adapts)
MODEL = "schnet"             # "schnet" or "painn"
N_FEATURES = 64              # atom feature size (embedding dimension)
N_INTERACTIONS = 3           # message-passing blocks
N_FILTERS = 32               # SchNet: width of the continuous filters (0 = N_FEATURES, as in the paper)
CUTOFF = 5.0                 # Å: neighbours closer than this exchange messages
N_RBF = 20                   # Gaussian radial basis functions between 0 and CUTOFF
ACTIVATION = "silu"          # "silu" (x sigmoid(x)) or "ssp" (shifted softplus, the SchNet paper's)
LEARNING_RATE = 1e-2         # start value (AdamW); 2e-2 is already too large here
LR_SCHEDULE = "cosine"       # "cosine": decays to LR_FINAL x LEARNING_RATE at the end; "constant"
LR_FINAL = 0.01
BATCH_SIZE = 8               # frames per optimizer step
ENERGY_WEIGHT, FORCE_WEIGHT = 0.01, 0.99   # weights of the energy (eV²) and force (eV²/Å²) MSEs
VAL_EVERY = 1                # validate every this many epochs (and after the last one)
SEED = 0                     # data split, initial weights, batch order
N_THREADS = 1                # CPU threads: tiny molecules gain little from more, and lose when others run
ACCELERATOR = "cpu"          # "cpu", "gpu" or "auto"
DEVICES = 1                  # GPUs (or CPU processes) per node
NUM_NODES = 1                # machines (cluster nodes)
PROGRESS_BAR = False         # Lightning's progress bar (nice in a terminal; a little slower)
DB_PATH = ""                 # "" = data/ethanol.db made by script1
MODELS_DIR = ""              # "" = schnet_tutorial/models
RUNS_DIR = ""                # "" = runs/ (TensorBoard)
FIGURES_DIR = ""             # "" = figures/
QUICK = {"N_TRAIN": 20, "N_VAL": 10, "N_TEST": 200, "EPOCHS": 1, "N_FEATURES": 16, "N_FILTERS": 0,
         "N_INTERACTIONS": 1}

import sys
import time
from pathlib import Path

t_start = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parent))
import schnet_common as sc  # noqa: E402  (also makes common/ importable)
from common import cli  # noqa: E402

cli.apply_overrides(globals(), quick=QUICK)
cli.check_choice("MODEL", MODEL, ["schnet", "painn"])
cli.check_choice("LR_SCHEDULE", LR_SCHEDULE, ["cosine", "constant"])
cli.check_choice("ACTIVATION", ACTIVATION, ["silu", "ssp"])
cli.check_choice("ACCELERATOR", ACCELERATOR, ["cpu", "gpu", "auto"])
for _name in ("N_TRAIN", "N_VAL", "EPOCHS", "N_FEATURES", "N_INTERACTIONS", "N_RBF", "BATCH_SIZE",
              "VAL_EVERY", "N_THREADS", "DEVICES", "NUM_NODES"):
    cli.check(globals()[_name] >= 1, f"{_name} must be >= 1, got {globals()[_name]}")
cli.check(N_FILTERS >= 0, f"N_FILTERS must be >= 0 (0 = N_FEATURES), got {N_FILTERS}")
cli.check(N_TEST >= 0, f"N_TEST must be >= 0 (0 = all remaining frames), got {N_TEST}")
cli.check(TIME_BUDGET_S >= 0, f"TIME_BUDGET_S must be >= 0 s (0 = no limit), got {TIME_BUDGET_S}")
cli.check(CUTOFF > 0, f"CUTOFF must be > 0 Å, got {CUTOFF}")
cli.check(LEARNING_RATE > 0, f"LEARNING_RATE must be > 0, got {LEARNING_RATE}")
cli.check(0 < LR_FINAL <= 1, f"LR_FINAL must be in (0, 1], got {LR_FINAL}")
cli.check(ENERGY_WEIGHT >= 0 and FORCE_WEIGHT >= 0 and ENERGY_WEIGHT + FORCE_WEIGHT > 0,
          f"ENERGY_WEIGHT and FORCE_WEIGHT must be >= 0 and not both 0, got {ENERGY_WEIGHT}, "
          f"{FORCE_WEIGHT}")
db_path = Path(DB_PATH) if DB_PATH else sc.DB_PATH
if not db_path.is_file():
    cli.fail(f"database {db_path} not found: run script1_prepare_data.py first")

import datetime  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytorch_lightning as pl  # noqa: E402
import schnetpack as spk  # noqa: E402
import torch  # noqa: E402
import torchmetrics  # noqa: E402
from pytorch_lightning.loggers import TensorBoardLogger  # noqa: E402
from pytorch_lightning.utilities.rank_zero import rank_zero_only  # noqa: E402

from common.plotting import save_figure, show  # noqa: E402

torch.set_num_threads(N_THREADS)
pl.seed_everything(SEED, verbose=False)
for _message in (".*does not have many workers",         # data in memory: no workers needed
                 ".*is an instance of `nn.Module` and is already saved",   # SchNetPack's task
                 ".*Skipping 'outputs' parameter", ".*isinstance\\(treespec, LeafSpec\\)",
                 ".*Trying to infer the `batch_size`", ".*Grad strides do not match",   # DDP
                 ".*It is recommended to use `self.log\\('(val_loss|lr)'",
                 ".*is smaller than the logging interval"):
    warnings.filterwarnings("ignore", message=_message)
logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)

# %% 1 Data: split the frames, compute the model inputs (neighbour lists) once, keep them in memory
try:
    n_frames = sc.database_size(db_path)
    train_idx, val_idx, test_idx = sc.split_indices(n_frames, N_TRAIN, N_VAL, N_TEST, SEED)
    # energies are learned relative to a mean energy per atom of the training frames (about
    # -468 eV per atom here): the network only has to learn the small differences between frames
    inputs, energies = sc.load_inputs(db_path, np.concatenate([train_idx, val_idx, test_idx]), CUTOFF)
except sc.TutorialError as err:
    cli.fail(str(err))
n_atoms = np.array([int(d["_n_atoms"]) for d in inputs])
n_tr, n_va = len(train_idx), len(val_idx)
mean_per_atom = float((energies[:n_tr] / n_atoms[:n_tr]).mean())
for d, e, n in zip(inputs, energies, n_atoms):   # SchNetPack's RemoveOffsets(remove_mean=True)
    d["energy"] = torch.tensor([e - mean_per_atom * n], dtype=torch.float32)
train_inputs, val_inputs, test_inputs = inputs[:n_tr], inputs[n_tr:n_tr + n_va], inputs[n_tr + n_va:]
train_loader = spk.data.AtomsLoader(train_inputs, batch_size=BATCH_SIZE, shuffle=True)
val_loader = spk.data.AtomsLoader(val_inputs, batch_size=250)
print(f"{n_frames} frames of {n_atoms[0]} atoms: {n_tr} training, {n_va} validation, "
      f"{len(test_idx)} test; inputs ready in {time.perf_counter() - t_start:.1f} s")

# %% 2 Model: embedding -> interaction blocks (continuous filters) -> atomwise energies -> sum
model = sc.build_model(MODEL, N_FEATURES, N_INTERACTIONS, CUTOFF, N_RBF, mean_per_atom, ACTIVATION,
                       N_FILTERS or None)
n_params = sc.count_parameters(model)
filters = f"{N_FILTERS or N_FEATURES} filters, " if MODEL == "schnet" else ""
print(f"{MODEL}: {N_INTERACTIONS} interactions, {N_FEATURES} features, {filters}{N_RBF} Gaussians, "
      f"cutoff {CUTOFF} Å, {ACTIVATION}: {n_params:,} trainable parameters")

# %% 3 Cost function: ENERGY_WEIGHT x MSE(energy, eV) + FORCE_WEIGHT x MSE(force components, eV/Å)
outputs = [
    spk.task.ModelOutput(name="energy", loss_fn=torch.nn.MSELoss(), loss_weight=ENERGY_WEIGHT,
                         metrics={"MAE": torchmetrics.MeanAbsoluteError()}),
    spk.task.ModelOutput(name="forces", loss_fn=torch.nn.MSELoss(), loss_weight=FORCE_WEIGHT,
                         metrics={"MAE": torchmetrics.MeanAbsoluteError()}),
]
for output in outputs:
    output.metrics["train"] = {}  # MAEs on the validation set only (per training step they cost time)

# %% 4 Find the parameters: mini-batch AdamW, learning-rate schedule, best validation model kept
stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
models_root = Path(MODELS_DIR) if MODELS_DIR else sc.MODELS_DIR
if rank_zero_only.rank == 0:
    model_dir = sc.new_model_dir(models_root, f"{MODEL}_{stamp}")   # a new folder: never overwrites
    np.savez(model_dir / "split.npz", train_idx=train_idx, val_idx=val_idx, test_idx=test_idx)
else:   # the other processes of a multi-GPU/multi-node run write nothing
    model_dir = Path(tempfile.mkdtemp(prefix="schnet_rank_"))
model_path = model_dir / sc.MODEL_FILE
task = spk.task.AtomisticTask(model=model, outputs=outputs, optimizer_cls=torch.optim.AdamW,
                              optimizer_args={"lr": LEARNING_RATE, "fused": True})  # fused: fastest
keep_best = sc.KeepBestModel(model_path)
schedule = sc.LearningRateSchedule(LEARNING_RATE, LR_SCHEDULE, LR_FINAL, TIME_BUDGET_S)
runs_root = Path(RUNS_DIR) if RUNS_DIR else sc.RUNS_DIR
logger = TensorBoardLogger(str(runs_root), name=f"script2_{model_dir.name}", version="",
                           default_hp_metric=False)
trainer = pl.Trainer(
    max_epochs=EPOCHS,
    accelerator=ACCELERATOR, devices=DEVICES, num_nodes=NUM_NODES,
    inference_mode=False,            # forces need gradients also when validating and testing
    logger=logger, callbacks=[keep_best, schedule],
    enable_checkpointing=False,      # KeepBestModel keeps the best weights in memory instead
    check_val_every_n_epoch=VAL_EVERY, num_sanity_val_steps=0,
    log_every_n_steps=min(10, len(train_loader)),   # training loss to TensorBoard every 10 steps
    enable_model_summary=False, enable_progress_bar=PROGRESS_BAR,
)
t_train = time.perf_counter()
trainer.fit(task, train_dataloaders=train_loader, val_dataloaders=val_loader)
if keep_best.validated_step != trainer.global_step:   # the last weights not validated yet
    trainer.validate(task, val_loader, verbose=False)
train_s = time.perf_counter() - t_train
keep_best.restore_and_save(task)
print(f"trained {trainer.current_epoch} epochs in {train_s:.1f} s ({schedule.frames / train_s:.0f} "
      f"frames/s, validation included); best validation loss {keep_best.best_loss:.3g} after epoch "
      f"{keep_best.best_epoch + 1}")
if trainer.global_rank != 0:
    shutil.rmtree(model_dir, ignore_errors=True)
    sys.exit(0)   # multi-GPU / multi-node: only the first process tests and plots

# %% 5 Look at the result: test the saved model file once, on the held-out frames
best = sc.load_model(model_path).eval()
e_pred, f_pred = sc.predict(best, test_inputs)
e_ref = energies[n_tr + n_va:]
f_ref = np.concatenate([d["forces"].double().numpy() for d in test_inputs])
k = sc.EV_TO_KCAL_PER_MOL
e_err, f_err = sc.error_metrics(e_pred, e_ref), sc.error_metrics(f_pred, f_ref)
print(f"test energy MAE {e_err['mae'] * k:.3f} kcal/mol ({e_err['mae'] * 1000:.1f} meV), RMSE "
      f"{e_err['rmse'] * k:.3f} kcal/mol ({e_err['rmse'] * 1000:.1f} meV)")
print(f"test force MAE {f_err['mae'] * k:.3f} kcal/mol/Å ({f_err['mae'] * 1000:.1f} meV/Å), RMSE "
      f"{f_err['rmse'] * k:.3f} kcal/mol/Å ({f_err['rmse'] * 1000:.1f} meV/Å)")

settings = {name: globals()[name] for name in (
    "N_TRAIN", "N_VAL", "N_TEST", "EPOCHS", "TIME_BUDGET_S", "MODEL", "N_FEATURES", "N_INTERACTIONS",
    "N_FILTERS", "CUTOFF", "N_RBF", "ACTIVATION", "LEARNING_RATE", "LR_SCHEDULE", "LR_FINAL", "BATCH_SIZE",
    "ENERGY_WEIGHT", "FORCE_WEIGHT", "VAL_EVERY", "SEED")}
results = {"test_energy_mae_eV": e_err["mae"], "test_energy_rmse_eV": e_err["rmse"],
           "test_force_mae_eV_per_A": f_err["mae"], "test_force_rmse_eV_per_A": f_err["rmse"],
           "trainable_parameters": n_params, "epochs_done": trainer.current_epoch,
           "train_seconds": round(train_s, 2), "best_epoch": keep_best.best_epoch + 1}
source = db_path.with_name(db_path.name + ".source.json")
sc.save_model_info(model_dir, {
    "model_file": sc.MODEL_FILE, "energy_unit": "eV", "forces_unit": "eV/Ang", "position_unit": "Ang",
    "cutoff_A": CUTOFF, "mean_energy_per_atom_eV": mean_per_atom,
    "database": str(db_path.resolve()),
    "data_source": json.loads(source.read_text()) if source.is_file() else None,
    "n_frames": n_frames, "settings": settings, "results": results,
    "versions": {"schnetpack": spk.__version__, "torch": torch.__version__},
})
logger.log_hyperparams({k2: v for k2, v in settings.items()},
                       {"test/energy_mae_meV": e_err["mae"] * 1000,
                        "test/force_mae_meV_per_A": f_err["mae"] * 1000})

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.5))
e0 = e_ref.mean()
ax1.plot(e_ref - e0, e_pred - e0, ".", ms=3)
lim = [min((e_ref - e0).min(), (e_pred - e0).min()), max((e_ref - e0).max(), (e_pred - e0).max())]
ax1.plot(lim, lim, "k--", lw=1)
ax1.set(xlabel=f"DFT energy - mean (eV); mean = {e0:.2f} eV", ylabel="model energy - mean (eV)",
        title=f"energy: MAE {e_err['mae'] * 1000:.1f} meV ({e_err['mae'] * k:.2f} kcal/mol)")
ax2.plot(f_ref.ravel(), f_pred.ravel(), ".", ms=1, alpha=0.5)
lim = [min(f_ref.min(), f_pred.min()), max(f_ref.max(), f_pred.max())]
ax2.plot(lim, lim, "k--", lw=1)
ax2.set(xlabel="DFT force component (eV/Å)", ylabel="model force component (eV/Å)",
        title=f"forces: MAE {f_err['mae'] * 1000:.0f} meV/Å ({f_err['mae'] * k:.2f} kcal/mol/Å)")
fig.suptitle(f"{MODEL} ({n_params:,} parameters, {trainer.current_epoch} epochs): "
             f"{len(test_idx)} test frames")
save_figure(fig, "schnet_parity", FIGURES_DIR or None)
show()
print(f"model saved: {model_path} (script total {time.perf_counter() - t_start:.1f} s); "
      "next: script3_run_md.py")
