"""script2_train_schnet.py: slides "Message passing neural networks" and "Getting to MD in 1 minute".

SchNetPack's pipeline, in its own terms: a representation (SchNet or PaiNN) turns atoms and
distances into feature vectors, output modules turn those into an energy and its forces, a task
ties the model to its cost function and optimizer, and PyTorch Lightning's Trainer runs the fit.
The model of the best validation loss is tested once on held-out frames and saved for script3.
"""

from schnet_tutorial import tools  # isort: skip (first: it quiets a warning of SchNetPack's import)
import shutil
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytorch_lightning as pl
import schnetpack as spk
import schnetpack.transform as trn
import torch
import torchmetrics

from common.plotting import save_figure, show
from common.runs import DATABASE, RUNS_DIR, settings_name
from common.settings import check, check_writable, fail, setup

# %% Settings: edit these, or override them on the command line (--epochs 20 --model painn)
N_TRAIN, N_VAL = 1000, 500  # frames for training and validation
N_TEST = 0  # frames for the test, from the rest (0 = all the rest)
EPOCHS = 30  # passes over the training set
TIME_BUDGET_S = 0.0  # > 0: stop training after this many seconds (results then depend on the machine)
MODEL = "schnet"  # "schnet" (invariant, cheap) or "painn" (equivariant: more accurate per epoch, slower)
N_FEATURES = 64  # atom feature size (embedding dimension)
N_INTERACTIONS = 3  # message-passing blocks
N_FILTERS = 32  # SchNet: width of the continuous filters (0 = N_FEATURES, as in the SchNet paper)
CUTOFF = 5.0  # Å: atoms closer than this exchange messages
N_RBF = 20  # Gaussian radial basis functions between 0 and CUTOFF
ACTIVATION = "silu"  # "silu" (x sigmoid(x)) or "ssp" (shifted softplus, the SchNet paper's)
LEARNING_RATE = 1e-2  # start value (AdamW); 2e-2 is already too large here
LR_SCHEDULE = "cosine"  # "cosine": decays to LR_FINAL x LEARNING_RATE over the epochs; "constant"
LR_FINAL = 0.01
BATCH_SIZE = 8  # frames per optimizer step
ENERGY_WEIGHT, FORCE_WEIGHT = 0.01, 0.99  # weights of the energy (eV²) and force (eV²/Å²) MSEs
VAL_EVERY = 1  # validate every this many epochs
SEED = 0  # data split, initial weights, batch order
N_THREADS = 1  # CPU threads: a 9-atom molecule gains little from more, and loses when others run
ACCELERATOR = "cpu"  # "cpu", "gpu" or "auto"; GPUs and clusters: see README.md
DEVICES = 1  # GPUs (or CPU processes) per node
NUM_NODES = 1  # machines (cluster nodes)
PROGRESS_BAR = False  # Lightning's progress bar (nice in a terminal)
DB_PATH = ""  # "" = the database script1 made (schnet_tutorial/data/ethanol.db)
setup(globals(), "script2_train_schnet")  # command-line overrides and checks

# %% 1 Data
# Slides 1 and 9: a seeded split into training, validation and test frames. A SchNetPack model
# reads a dictionary per frame: atomic numbers, positions and the neighbour list (the atom pairs
# closer than CUTOFF), plus the targets, energy (eV) and forces (eV/Å). SchNetPack's own tutorial
# rebuilds these for every frame in every epoch, which here would take longer than the training
# itself; they are built once and kept in memory (benchmarks/README.md). The energies are learned
# relative to the mean energy per atom of the training frames (RemoveOffsets): the network only
# has to learn the small differences between frames, not -4210 eV. The model computes in float32.
check_writable(tools.MODELS_DIR, RUNS_DIR)  # before the work: a read-only folder or a full disk
t_start = time.perf_counter()
db_path = Path(DB_PATH) if DB_PATH else DATABASE
n_frames = tools.count_frames(db_path)
train_idx, val_idx, test_idx = tools.split_indices(n_frames, N_TRAIN, N_VAL, N_TEST, SEED)
train_data, val_data, test_data = tools.load_inputs(db_path, CUTOFF, train_idx, val_idx, test_idx)
test_energies = np.array([d["energy"].item() for d in test_data])  # eV
n_atoms = np.array([d["_n_atoms"].item() for d in train_data])
mean_per_atom = torch.tensor(np.mean([d["energy"].item() for d in train_data] / n_atoms))  # eV, float64
remove_mean = trn.RemoveOffsets("energy", remove_mean=True, property_mean=mean_per_atom)
train_data = [trn.CastTo32()(remove_mean(d)) for d in train_data]
val_data = [trn.CastTo32()(remove_mean(d)) for d in val_data]
test_data = [trn.CastTo32()(d) for d in test_data]
pl.seed_everything(SEED, verbose=False)
train_loader = spk.data.AtomsLoader(train_data, batch_size=BATCH_SIZE, shuffle=True)
val_loader = spk.data.AtomsLoader(val_data, batch_size=250)
print(
    f"{n_frames} frames of {n_atoms[0]} atoms: {len(train_idx)} training, {len(val_idx)} validation, "
    f"{len(test_idx)} test; inputs ready in {time.perf_counter() - t_start:.1f} s"
)

# %% 2 Model
# Slide 15, tied to slides 4-5. Each atom starts as a learned vector for its element (an embedding:
# slide 4's one-hot code times a trainable matrix). Distances are expanded in Gaussians (slide 4's
# phi_k(r)) that feed small networks making continuous filters; a cosine cutoff takes them smoothly
# to zero at CUTOFF. In each interaction block every atom receives a message from each neighbour,
# weighted by the filter of their distance. Atomwise, an MLP with a smooth activation (slide 5),
# gives every atom an energy; their sum is E, and Forces gives F = -dE/dR by automatic
# differentiation. AddOffsets adds the mean energy back (as one float64 number, the way SchNetPack
# stores it), so the saved model predicts absolute energies. Look at the parameter count.
activation = {"silu": torch.nn.functional.silu, "ssp": spk.nn.shifted_softplus}[ACTIVATION]
Representation = {"schnet": spk.representation.SchNet, "painn": spk.representation.PaiNN}[MODEL]
filters = {"n_filters": N_FILTERS or N_FEATURES} if MODEL == "schnet" else {}  # PaiNN has no such setting
representation = Representation(
    n_atom_basis=N_FEATURES,  # the embedding: one learned vector of N_FEATURES numbers per element
    n_interactions=N_INTERACTIONS,
    radial_basis=spk.nn.GaussianRBF(n_rbf=N_RBF, cutoff=CUTOFF),
    cutoff_fn=spk.nn.CosineCutoff(CUTOFF),
    activation=activation,
    **filters,
)
model = spk.model.NeuralNetworkPotential(
    representation=representation,
    input_modules=[spk.atomistic.PairwiseDistances()],  # |R_j - R_i| of every pair in the neighbour list
    output_modules=[
        spk.atomistic.Atomwise(n_in=N_FEATURES, output_key="energy", activation=activation),
        spk.atomistic.Forces(energy_key="energy", force_key="forces"),
    ],
    postprocessors=[trn.CastTo64(), trn.AddOffsets("energy", add_mean=True, property_mean=mean_per_atom)],
)
n_params = tools.count_parameters(model)
print(
    f"{MODEL}: {N_INTERACTIONS} interactions, {N_FEATURES} features, "
    + (f"{N_FILTERS or N_FEATURES} filters, " if filters else "")
    + f"{N_RBF} Gaussians, cutoff {CUTOFF} Å, {ACTIVATION}: {n_params:,} trainable parameters"
)

# %% 3 Cost function
# Slide 6: ENERGY_WEIGHT x MSE of the energies (eV²) + FORCE_WEIGHT x MSE of the force components
# (eV²/Å²). A frame has one energy but 27 force components, and MD needs the forces, so the cost
# favours them. The mean absolute errors (MAE) are computed on the validation set only: at every
# training step too (SchNetPack's default) they would cost a quarter of the training time.
outputs = []
for name, weight in (("energy", ENERGY_WEIGHT), ("forces", FORCE_WEIGHT)):
    metric = {"MAE": torchmetrics.MeanAbsoluteError()}
    outputs.append(spk.task.ModelOutput(name, loss_fn=torch.nn.MSELoss(), loss_weight=weight, metrics=metric))
    outputs[-1].metrics["train"] = {}

# %% 4 Find the parameters
# Slides 7, 9 and 12: AtomisticTask ties model, cost and optimizer together; Lightning's Trainer
# runs it: AdamW steps on mini-batches of BATCH_SIZE frames, the learning rate falling along a
# cosine over the epochs (a torch scheduler), the validation loss after every epoch, and
# SchNetPack's ModelCheckpoint saving the model of the best validation loss as best_model.
# TensorBoard (tensorboard --logdir=runs) shows the losses, the validation MAEs and the learning
# rate, and in its HPARAMS tab every run's settings and test errors. Ctrl-C stops the training: the
# best model so far is then tested and saved, marked as interrupted in model_info.json.
check(ACCELERATOR != "gpu" or torch.cuda.is_available(), "ACCELERATOR = 'gpu' but PyTorch finds no GPU here")
task = spk.task.AtomisticTask(
    model=model,
    outputs=outputs,
    optimizer_cls=torch.optim.AdamW,
    optimizer_args={"lr": LEARNING_RATE, "fused": True},  # fused: all parameters in one step, faster
    scheduler_cls=torch.optim.lr_scheduler.CosineAnnealingLR if LR_SCHEDULE == "cosine" else None,
    scheduler_args={"T_max": EPOCHS, "eta_min": LR_FINAL * LEARNING_RATE},
)
run_name = f"{MODEL}_" + settings_name(e=EPOCHS, lr=LEARNING_RATE, f=N_FEATURES)
model_dir = tools.new_model_folder(run_name)  # a new folder per run; removed if the run does not finish
np.savez(model_dir / "split.npz", train_idx=train_idx, val_idx=val_idx, test_idx=test_idx)
model_file = str(model_dir / tools.MODEL_FILE)
checkpoint = spk.train.ModelCheckpoint(model_file, dirpath=model_dir, filename="best", monitor="val_loss")
run_dir = tools.new_folder(RUNS_DIR, model_dir.name)  # TensorBoard's folder of this run
logger = tools.SettingsLogger(str(run_dir.parent), name=run_dir.name, version="", default_hp_metric=False)
trainer = pl.Trainer(
    max_epochs=EPOCHS,
    max_time={"seconds": TIME_BUDGET_S} if TIME_BUDGET_S else None,
    accelerator=ACCELERATOR,
    devices=DEVICES,
    num_nodes=NUM_NODES,
    inference_mode=False,  # validating the forces needs gradients
    callbacks=[checkpoint, pl.callbacks.LearningRateMonitor()],
    logger=logger,
    check_val_every_n_epoch=VAL_EVERY,
    num_sanity_val_steps=0,
    log_every_n_steps=min(10, len(train_loader)),
    enable_model_summary=False,
    enable_progress_bar=PROGRESS_BAR,
)
t_train = time.perf_counter()
interrupted = tools.fit(trainer, task, train_loader, val_loader, model_dir)  # True: stopped by Ctrl-C
train_s = time.perf_counter() - t_train
if not trainer.is_global_zero:
    raise SystemExit(0)  # several GPUs or nodes: only the first process tests and saves (README.md)
best_loss = float("nan" if checkpoint.best_model_score is None else checkpoint.best_model_score)
if not np.isfinite(best_loss):
    shutil.rmtree(model_dir, ignore_errors=True)
    check(not interrupted, "training interrupted (Ctrl-C) before its first validation: nothing was saved")
    fail(f"training diverged (validation loss {best_loss}): nothing was saved; lower LEARNING_RATE")
if interrupted:
    tools.warn(
        f"training interrupted (Ctrl-C) after {trainer.current_epoch} of {EPOCHS} epochs: the best model so "
        "far is tested and saved, marked as interrupted"
    )
frames_per_s = trainer.current_epoch * len(train_data) / train_s
print(
    f"trained {trainer.current_epoch} epochs in {train_s:.1f} s ({frames_per_s:.0f} frames/s, validation "
    f"included); best validation loss {best_loss:.3g}"
)

# %% 5 Look at the result
# Slide 9: the saved model file is tested once, on frames it never saw. Look at the test errors
# (chemical accuracy is 1 kcal/mol) and at the parity plot: model against DFT for the energies
# and for every force component; points on the diagonal are perfect predictions.
e_pred, f_pred = tools.predict(tools.load_model(model_file), test_data)
f_ref = np.concatenate([d["forces"].double().numpy() for d in test_data])
e_err, f_err = e_pred - test_energies, f_pred - f_ref
mae = {"energy": np.abs(e_err).mean(), "forces": np.abs(f_err).mean()}  # eV, eV/Å
rmse = {"energy": np.sqrt((e_err**2).mean()), "forces": np.sqrt((f_err**2).mean())}
kcal = tools.EV_TO_KCAL_PER_MOL
print(
    f"test energy MAE {mae['energy'] * kcal:.3f} kcal/mol ({mae['energy'] * 1000:.1f} meV), "
    f"RMSE {rmse['energy'] * kcal:.3f} kcal/mol ({rmse['energy'] * 1000:.1f} meV)"
)
print(
    f"test force MAE {mae['forces'] * kcal:.3f} kcal/mol/Å ({mae['forces'] * 1000:.1f} meV/Å), "
    f"RMSE {rmse['forces'] * kcal:.3f} kcal/mol/Å ({rmse['forces'] * 1000:.1f} meV/Å)"
)

names = "N_TRAIN N_VAL N_TEST EPOCHS TIME_BUDGET_S MODEL N_FEATURES N_INTERACTIONS N_FILTERS CUTOFF N_RBF"
names += " ACTIVATION LEARNING_RATE LR_SCHEDULE LR_FINAL BATCH_SIZE ENERGY_WEIGHT FORCE_WEIGHT VAL_EVERY SEED"
settings = {name: globals()[name] for name in names.split()}
metrics = {"test/energy_MAE_kcal_per_mol": mae["energy"] * kcal}
metrics["test/force_MAE_kcal_per_mol_A"] = mae["forces"] * kcal
logger.log_hyperparams(settings, metrics)  # TensorBoard's HPARAMS table: the settings and test errors
results = {
    "test_energy_mae_eV": mae["energy"],
    "test_energy_rmse_eV": rmse["energy"],
    "test_force_mae_eV_per_A": mae["forces"],
    "test_force_rmse_eV_per_A": rmse["forces"],
    "trainable_parameters": n_params,
    "epochs_done": trainer.current_epoch,
    "train_seconds": train_s,
}
tools.save_model_info(model_dir, db_path, train_data, mean_per_atom.item(), settings, results, interrupted)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.5))
e0 = test_energies.mean()
for ax, ref, pred in ((ax1, test_energies - e0, e_pred - e0), (ax2, f_ref.ravel(), f_pred.ravel())):
    ax.plot(ref, pred, ".", ms=3 if ax is ax1 else 1, alpha=1 if ax is ax1 else 0.5)
    lim = [min(ref.min(), pred.min()), max(ref.max(), pred.max())]
    ax.plot(lim, lim, "k--", lw=1)
ax1.set(xlabel=f"DFT energy - mean (eV); mean = {e0:.2f} eV", ylabel="model energy - mean (eV)")
ax1.set_title(f"energy: MAE {mae['energy'] * 1000:.1f} meV ({mae['energy'] * kcal:.2f} kcal/mol)")
ax2.set(xlabel="DFT force component (eV/Å)", ylabel="model force component (eV/Å)")
ax2.set_title(f"forces: MAE {mae['forces'] * 1000:.0f} meV/Å ({mae['forces'] * kcal:.2f} kcal/mol/Å)")
fig.suptitle(f"{MODEL}, {n_params:,} parameters, {trainer.current_epoch} epochs: {len(test_idx)} test frames")
save_figure(fig, "schnet_parity")
show()
print(f"model saved{' (interrupted)' if interrupted else ''}: {model_file}; next: script3_run_md.py")
print(
    f"result: energy_mae_kcal_per_mol={mae['energy'] * kcal:.3f} force_mae_kcal_per_mol_A="
    f"{mae['forces'] * kcal:.3f} train_s={train_s:.1f} total_s={time.perf_counter() - t_start:.1f}"
)
