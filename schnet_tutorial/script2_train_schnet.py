"""script2_train_schnet.py: slides "Message passing neural networks" and "Getting to MD in 1 minute".

SchNetPack's pipeline, in its own terms: a representation (SchNet, or PaiNN, SchNet's equivariant
successor, the default) turns atoms and distances into feature vectors, output modules turn those
into an energy and its forces, a task ties the model to its cost function and optimizer, and PyTorch
Lightning's Trainer runs the fit. The model of the best validation loss is tested once on held-out
frames and saved for script3.
"""

from schnet_tutorial.helpers import dataset, model_files, pipeline  # isort: skip (first: it quiets SchNetPack's import)
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytorch_lightning as pl
import schnetpack as spk
import schnetpack.transform as trn
import torch
import torchmetrics

from common.mlp import count_parameters
from common.plotting import save_figure, show
from common.runs import DATABASE, MODELS_DIR, RUNS_DIR, settings_name
from common.settings import check, check_writable, settings_used, setup

# %% Settings: edit these, or override them on the command line (--epochs 20 --model painn)
N_TRAIN = 1000  # frames for training
N_VAL = 200  # frames for validation (the best epoch on them is kept)
N_TEST = 0  # frames for the test, from the rest (0 = all the rest)
EPOCHS = 20  # passes over the training set
TIME_BUDGET_S = 0.0  # > 0: stop training after this many seconds (then the machine's speed decides)
MODEL = "painn"  # "painn" (equivariant), "schnet" (invariant: the slides' model) or "so3net" (slow here)
N_FEATURES = 32  # atom feature size (embedding dimension)
N_INTERACTIONS = 3  # message-passing blocks
N_FILTERS = 32  # SchNet only: width of the continuous filters (0 = N_FEATURES, as in the SchNet paper)
CUTOFF = 5.0  # Å: atoms closer than this exchange messages
N_RBF = 20  # Gaussian radial basis functions between 0 and CUTOFF
ACTIVATION = "silu"  # "silu" (x sigmoid(x)), "ssp" (shifted softplus, the SchNet paper's), or gelu, tanh ...
LOSS = "l1"  # "l1": mean absolute errors (the test's own measure); "mse": mean squared errors
ENERGY_WEIGHT = 0.01  # weight of the energy errors in the cost (eV with LOSS = "l1", eV² with "mse")
FORCE_WEIGHT = 0.99  # weight of the force errors in the cost (eV/Å with "l1", eV²/Å² with "mse")
EMA_DECAY = 0.0  # > 0: validate and keep a running average of the weights (0.99: about the last 100 steps)
LEARNING_RATE = 1e-2  # start value (AdamW); 2e-2 is already too large here
LR_SCHEDULE = "cosine"  # "cosine": decays to LR_FINAL x LEARNING_RATE over the epochs; "constant"
LR_FINAL = 0.01  # cosine only: the last rate as a FRACTION of LEARNING_RATE (0.01: 1e-2 -> 1e-4)
BATCH_SIZE = 8  # frames per optimizer step
VAL_EVERY = 1  # validate every this many epochs (1 with EMA_DECAY)
SEED = 0  # data split, initial weights, batch order
DB_PATH = ""  # "" = the database script1 made (schnet_tutorial/data/ethanol.db)
# Hardware: where the training runs (GPUs and clusters: schnet_tutorial/README.md)
N_THREADS = 1  # CPU threads: a 9-atom molecule gains little from more, and loses when others run
ACCELERATOR = "cpu"  # "cpu", "gpu" or "auto"
DEVICES = 1  # GPUs (or CPU processes) per node
NUM_NODES = 1  # machines (cluster nodes)
PROGRESS_BAR = False  # Lightning's progress bar (nice in a terminal)
setup(globals(), "script2_train_schnet")  # command-line overrides and checks

# %% 1 Data
# Slides 1 and 9: a seeded split into training, validation and test frames. A SchNetPack model
# reads a dictionary per frame: atomic numbers, positions and the neighbour list (the atom pairs
# closer than CUTOFF), plus the targets, energy (eV) and forces (eV/Å). SchNetPack's own tutorial
# rebuilds these for every frame in every epoch, which here would take longer than the training
# itself; they are built once and kept in memory (benchmarks/README.md). The energies are learned
# relative to the mean energy per atom of the training frames (RemoveOffsets): the network only
# has to learn the small differences between frames, not -4210 eV. The model computes in float32.
check_writable(MODELS_DIR, RUNS_DIR)  # before the work: a read-only folder or a full disk
t_start = time.perf_counter()
db_path = Path(DB_PATH) if DB_PATH else DATABASE
n_frames = dataset.count_frames(db_path)
train_idx, val_idx, test_idx = dataset.split(n_frames, N_TRAIN, N_VAL, N_TEST, SEED)
train_data, val_data, test_data = dataset.load_inputs(db_path, CUTOFF, train_idx, val_idx, test_idx)
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
# :math:`\phi_k(r) = \exp(-(r - \mu_k)^2 / 2\sigma^2)`) that feed small networks making continuous
# filters :math:`W(r_{ij})`; a cosine cutoff takes them smoothly to zero at CUTOFF. In each
# interaction block every atom receives a message from each neighbour, weighted by the filter of
# their distance: :math:`\mathbf{x}_i \leftarrow \mathbf{x}_i + \sum_j \mathbf{x}_j \circ W(r_{ij})`.
# Atomwise, an MLP with a smooth activation (slide 5), gives every atom an energy; their sum is
# :math:`E = \sum_i E_i`, and Forces gives :math:`\mathbf{F}_i = -\partial E / \partial \mathbf{R}_i` by
# automatic differentiation. AddOffsets adds the mean energy back (as one float64 number, the way
# SchNetPack stores it), so the saved model predicts absolute energies. Look at the parameter count.
# That is SchNet (MODEL = "schnet"). The default, PaiNN, is its successor from the same group: the
# same embedding, Gaussians, filters and messages, plus a vector per atom that carries directions
# (:math:`\vec{r}_{ij} / r_{ij}`) from atom to atom, so it can tell angles and torsions apart that
# distances alone give only through many neighbours. On a laptop CPU the 32-feature PaiNN reaches
# about 0.5 kcal/mol/Å within the minute; SchNet needs about twice as long for the same error
# (benchmarks/README.md: time to accuracy), and script4 shows both.
activation = pipeline.ACTIVATIONS[ACTIVATION]  # e.g. torch.nn.functional.silu
Representation = {"schnet": spk.representation.SchNet, "painn": spk.representation.PaiNN,
                  "so3net": spk.representation.SO3net}[MODEL]  # fmt: skip
filters = {"n_filters": N_FILTERS or N_FEATURES} if MODEL == "schnet" else {}  # SchNet's alone
filters = {"lmax": pipeline.SO3NET_LMAX} if MODEL == "so3net" else filters  # SO3net's highest angular order
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
n_params = count_parameters(model)
print(
    f"{MODEL}: {N_INTERACTIONS} interactions, {N_FEATURES} features, "
    + (f"{N_FILTERS or N_FEATURES} filters, " if MODEL == "schnet" else "")
    + (f"angular orders l <= {pipeline.SO3NET_LMAX}, " if MODEL == "so3net" else "")
    + f"{N_RBF} Gaussians, cutoff {CUTOFF} Å, {ACTIVATION}: {n_params:,} trainable parameters"
)
pipeline.warn_unused(settings_used())  # a setting this MODEL (or LR_SCHEDULE) does not use: said

# %% 3 Cost function
# Slide 6: ENERGY_WEIGHT x the mean absolute error (L1) of the energies (eV) + FORCE_WEIGHT x that of
# the force components (eV/Å); with LOSS = "mse" the mean squared errors (eV², eV²/Å²), as on the
# slide. L1 is the test's own measure and lets the few largest errors count less: in a short
# training it gets further (script4's "L1 cost" rung). A frame has one energy but 27 force
# components, and MD needs the forces, so the cost favours them. The mean absolute errors (MAE) are
# computed on the validation set only: at every training step too (SchNetPack's default) they would
# cost a quarter of the training time.
outputs = []
for name, weight in (("energy", ENERGY_WEIGHT), ("forces", FORCE_WEIGHT)):
    metric = {"MAE_eV" if name == "energy" else "MAE_eV_per_A": torchmetrics.MeanAbsoluteError()}
    loss_fn = {"mse": torch.nn.MSELoss(), "l1": torch.nn.L1Loss()}[LOSS]
    outputs.append(spk.task.ModelOutput(name, loss_fn=loss_fn, loss_weight=weight, metrics=metric))
    outputs[-1].metrics["train"] = {}

# %% 4 Find the parameters
# Slides 7, 9 and 12: AtomisticTask ties model, cost and optimizer together; Lightning's Trainer
# runs it: AdamW steps on mini-batches of BATCH_SIZE frames, the learning rate falling along a
# cosine over the epochs (a torch scheduler), the validation loss after every epoch, and
# SchNetPack's ModelCheckpoint saving the model of the best validation loss as best_model. With
# EMA_DECAY > 0, SchNetPack's ExponentialMovingAverage keeps a running average of the weights over
# about the last 1 / (1 - EMA_DECAY) steps, and validation, checkpoint and test use the average: it
# smooths out the jitter of the last mini-batches (MACE's and NequIP's recipes do the same).
# TensorBoard (tensorboard --logdir=runs) shows the losses, the validation MAEs and the learning
# rate, and in its HPARAMS tab every run's settings and test errors. Ctrl-C stops the training: the
# best model so far is then tested and saved, marked as interrupted in model_info.json.
check(ACCELERATOR != "gpu" or torch.cuda.is_available(), "ACCELERATOR = 'gpu' but PyTorch finds no GPU here")
print(pipeline.learning_rate_line(settings_used()))  # e.g. 0.01 falling along a cosine to 0.0001
task = spk.task.AtomisticTask(
    model=model,
    outputs=outputs,
    optimizer_cls=torch.optim.AdamW,
    optimizer_args={"lr": LEARNING_RATE, "fused": True},  # fused: all parameters in one step, faster
    scheduler_cls=torch.optim.lr_scheduler.CosineAnnealingLR if LR_SCHEDULE == "cosine" else None,
    scheduler_args={"T_max": EPOCHS, "eta_min": LR_FINAL * LEARNING_RATE},
)
run_name = f"{MODEL}_" + settings_name(e=EPOCHS, lr=LEARNING_RATE, f=N_FEATURES)
model_dir = model_files.new_model_folder(run_name, runs_dir=RUNS_DIR)  # new, and its own name in runs/
np.savez(model_dir / "split.npz", train_idx=train_idx, val_idx=val_idx, test_idx=test_idx)
model_file = str(model_dir / model_files.MODEL_FILE)
checkpoint = spk.train.ModelCheckpoint(model_file, dirpath=model_dir, filename="best", monitor="val_loss")
average = [spk.train.ExponentialMovingAverage(decay=EMA_DECAY)] if EMA_DECAY else []  # SchNetPack's
logger = pipeline.SettingsLogger(str(RUNS_DIR), name=model_dir.name, version="", default_hp_metric=False)
trainer = pl.Trainer(
    max_epochs=EPOCHS,
    max_time={"seconds": TIME_BUDGET_S} if TIME_BUDGET_S else None,
    accelerator=ACCELERATOR,
    devices=DEVICES,
    num_nodes=NUM_NODES,
    inference_mode=False,  # validating the forces needs gradients
    callbacks=[checkpoint, pl.callbacks.LearningRateMonitor(), *average],
    logger=logger,
    check_val_every_n_epoch=VAL_EVERY,
    num_sanity_val_steps=0,
    log_every_n_steps=min(10, len(train_loader)),
    enable_model_summary=False,
    enable_progress_bar=PROGRESS_BAR,
)
t_train = time.perf_counter()
with pipeline.interruptible(model_dir, task) as run:  # Ctrl-C: the best model so far is kept
    trainer.fit(task, train_dataloaders=train_loader, val_dataloaders=val_loader)
if trainer.global_rank != 0:  # DEVICES > 1: every process trains; the first one tests, saves and reports
    raise SystemExit(0)
train_s = time.perf_counter() - t_train
best_loss = pipeline.best_loss(checkpoint, trainer, run.interrupted, model_dir)  # stops if none or NaN
budget_stop = pipeline.budget_stopped(TIME_BUDGET_S, EPOCHS, trainer, run.interrupted)  # said if so
print(
    f"trained {trainer.current_epoch} epochs in {train_s:.1f} s "
    f"({trainer.current_epoch * len(train_data) / train_s:.0f} frames/s, validation included); "
    f"best validation loss {best_loss:.3g}"
)

# %% 5 Look at the result
# Slide 9: the saved model file is tested once, on frames it never saw. Look at the test errors
# (chemical accuracy is 1 kcal/mol) and at the parity plot: model against DFT for the energies
# and for every force component; points on the diagonal are perfect predictions.
(e_pred, f_pred), (e_ref, f_ref), errors = pipeline.test_model(model_file, test_data)
kcal, e_mae, f_mae = dataset.EV_TO_KCAL_PER_MOL, errors["energy_mae_kcal_mol"], errors["force_mae_kcal_mol_A"]
e_rmse, f_rmse = errors["energy_rmse_kcal_mol"], errors["force_rmse_kcal_mol_A"]
print(f"test energy MAE {e_mae:.3f} kcal/mol ({e_mae / kcal * 1000:.1f} meV), RMSE {e_rmse:.3f} kcal/mol")
print(
    f"test force MAE {f_mae:.3f} kcal/mol/Å ({f_mae / kcal * 1000:.1f} meV/Å), RMSE {f_rmse:.3f} kcal/mol/Å"
)
results = {**errors, "parameters": n_params, "epochs_done": trainer.current_epoch, "train_s": train_s,
           "steps": trainer.global_step, "stopped_by_time_budget": budget_stop,
           "best_val_loss": best_loss}  # fmt: skip
pipeline.finish(
    model_dir, db_path, train_data, mean_per_atom.item(), settings_used(), results, run.interrupted, logger
)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.5), layout="constrained")
e0 = e_ref.mean()
for ax, ref, pred in ((ax1, e_ref - e0, e_pred - e0), (ax2, f_ref.ravel(), f_pred.ravel())):
    ax.plot(ref, pred, ".", ms=3 if ax is ax1 else 1, alpha=1 if ax is ax1 else 0.5)
    lim = [min(ref.min(), pred.min()), max(ref.max(), pred.max())]
    ax.plot(lim, lim, "k--", lw=1)
ax1.set(xlabel=f"DFT energy - mean (eV); mean = {e0:.2f} eV", ylabel="model energy - mean (eV)")
ax1.set_title(f"energy: MAE {e_mae / kcal * 1000:.1f} meV ({e_mae:.2f} kcal/mol)")
ax2.set(xlabel="DFT force component (eV/Å)", ylabel="model force component (eV/Å)")
ax2.set_title(f"forces: MAE {f_mae / kcal * 1000:.0f} meV/Å ({f_mae:.2f} kcal/mol/Å)")
fig.suptitle(f"{MODEL}, {n_params:,} parameters, {trainer.current_epoch} epochs: {len(test_idx)} test frames")
save_figure(fig, "schnet_parity")
show()
print(f"model saved{' (interrupted)' if run.interrupted else ''}: {model_file}; next: script3_run_md.py")
print(
    f"result: energy_mae_kcal_per_mol={e_mae:.3f} force_mae_kcal_per_mol_A={f_mae:.3f} "
    f"train_s={train_s:.1f} total_s={time.perf_counter() - t_start:.1f}"
)

# %% Exercises
# Worked answers: solutions/script2_train_schnet.py (run it, or read it on the lesson's page).
#
# 1. (read the figure) From the parity plot's titles and the printout: the test force MAE in kcal/mol/Å
#    and meV/Å, and the energy MAE in kcal/mol. Which of the two is below chemical accuracy (1 kcal/mol,
#    or 1 kcal/mol/Å for the forces)?
# 2. (predict, then run) Train a quarter as long: ``--epochs 5``. Before you run: will the test force MAE
#    rise or fall, and by roughly how much? And the training time? Then run and compare.
# 3. (write code) The force error per element: load the saved model (``model_files.load_model``), predict
#    the forces on its test frames (``split.npz``) and compute the force MAE on the H, C and O atoms
#    separately, also relative to each element's mean |F|. On which element does the model err most?
