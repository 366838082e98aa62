"""Slides "3. Cost function" and "4. Find the parameters", plus early stopping (slide 9).

Cost: mean squared error (MSE). Find: theta' = theta - lr * grad C, one step per mini-batch.
The epoch loss is the mean over all points of the epoch: each batch's MSE weighted by its size
(the last batch may be smaller), not the loss of the first or last batch.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from .runs import LOSS_TAGS
from .settings import OPTIMIZERS, fail, own

DIVERGED_MSE = 1e6  # an MSE above this (in epsilon^2: the data are of order 1) means training blew up
FEW_STEPS = 100  # fewer optimizer steps than this in all: too few for a network to learn anything


def stop_if_diverged(mse: float, advice: str) -> None:
    """One-line error (exit 2) when a training diverged: its MSE is not finite or absurdly large.
    A diverged training took too large steps: ``advice`` names the learning rate to lower."""
    if not math.isfinite(mse) or mse > DIVERGED_MSE:
        fail(f"training diverged (MSE {mse:.3g}): {advice}; nothing was saved")


def too_little_training(
    steps: int,
    n_train: int,
    batch_size: int,
    learning_rate: float,
    default_learning_rate: float,
    epochs_done: int,
    epochs: int,
    time_budget_s: float = 0.0,
) -> list[str]:
    """Why a training that did not diverge learned too little, and what to change, cause first, in the
    running script's own setting names (``common.settings.own``): a time budget that stopped it, too
    few optimizer steps (naming their count), a learning rate far from the default. [] when none of
    these is the cause."""
    lr, default = own("LEARNING_RATE", "learning rate"), default_learning_rate
    batch_name = own("BATCH_SIZE", "batch size")
    more = "more " + own("EPOCHS", own("STEPS", "optimizer steps"))
    causes = []
    if time_budget_s and epochs_done < epochs:
        budget = own("TIME_BUDGET_S", "the time budget")
        causes.append(
            f"{budget} = {time_budget_s:g} s stopped it after {epochs_done} of {epochs} epochs: raise "
            f"{budget} or set it to 0"
        )
    per_epoch = math.ceil(n_train / batch_size)
    if steps < FEW_STEPS:
        smaller = f"a smaller {batch_name} (8: {math.ceil(n_train / 8)} steps per epoch) or "
        smaller = smaller if per_epoch < 10 and batch_size > 8 else ""
        causes.append(
            f"only {steps} optimizer steps in all ({epochs_done} epochs of {per_epoch} "
            f"batch{'es' if per_epoch > 1 else ''} of {min(batch_size, n_train)} of the {n_train} training "
            f"frames, {batch_name} = {batch_size}): {smaller}{more}"
        )
    if learning_rate < default / 3:
        causes.append(
            f"{lr} = {learning_rate:g} is {default / learning_rate:.0f}x below the default {default:g}: "
            f"{steps} steps moved the weights too little; a larger {lr} or {more}"
        )
    elif learning_rate > 1.5 * default:
        causes.append(f"{lr} = {learning_rate:g} is above the default {default:g} (too large); lower {lr}")
    return causes


def pick_device(preference: str = "auto") -> torch.device:
    """'auto' takes CUDA, then Apple's MPS, then the CPU; or name one: 'cuda', 'mps', 'cpu'."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        fail("DEVICE is 'cuda' but PyTorch finds no CUDA GPU here: use 'cpu' or 'auto'")
    if preference == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        fail("DEVICE is 'mps' but this is not a Mac with Metal (MPS) support: use 'cpu' or 'auto'")
    return torch.device(preference)


def make_optimizer(name: str, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0):
    """sgd, momentum (heavy ball), nesterov, adam or adamw. weight_decay is the L2 strength."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(
            params, lr=lr, momentum=momentum, nesterov=name == "nesterov", weight_decay=weight_decay
        )
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")


def train_epoch(model: nn.Module, loader, optimizer, loss_fn=nn.MSELoss(), device="cpu") -> float:
    """One pass over the training data: one optimizer step per mini-batch. Returns the epoch MSE."""
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(x)  # weight each batch by its size
        count += len(x)
    return total / count


@torch.no_grad()
def evaluate(model: nn.Module, loader, loss_fn=nn.MSELoss(), device="cpu") -> float:
    """Mean loss over all points of a DataLoader (no parameter update)."""
    model.eval()
    total, count = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        total += loss_fn(model(x), y).item() * len(x)
        count += len(x)
    return total / count


@dataclass
class History:
    train: list = field(default_factory=list)
    validation: list = field(default_factory=list)
    best_epoch: int = -1  # 0-based epoch whose weights were kept
    stopped_epoch: int = -1  # last epoch run
    early_stopped: bool = False


def fit(
    model,
    train_loader,
    optimizer,
    epochs: int,
    val_loader=None,
    patience: int | None = None,
    loss_fn=nn.MSELoss(),
    device="cpu",
    writer=None,
    log_every: int = 0,
) -> History:
    """Train for up to ``epochs``: the loop of lj_1 and lj_2 (zero_grad, loss, backward, step for each
    mini-batch; see ``train_epoch``). With a validation loader and ``patience``: stop when the
    validation loss has not improved for ``patience`` epochs and restore the best weights.
    With a TensorBoard ``writer``: log10 of the training and validation MSE after every epoch
    (``common.runs.LOSS_TAGS``, at steps 1, 2, ...: the epoch numbers the scripts print)."""
    hist = History()
    best, best_state = float("inf"), None
    for epoch in range(epochs):
        hist.train.append(train_epoch(model, train_loader, optimizer, loss_fn, device))
        hist.stopped_epoch = epoch
        if val_loader is not None:
            val = evaluate(model, val_loader, loss_fn, device)
            hist.validation.append(val)
            if val < best:
                best, hist.best_epoch = val, epoch
                best_state = copy.deepcopy(model.state_dict())
        if (
            writer is not None
        ):  # log10, so that TensorBoard's linear axis stays readable; step: epoch 1, 2, ...
            writer.add_scalar(LOSS_TAGS["train"], math.log10(max(hist.train[-1], 1e-30)), epoch + 1)
            if val_loader is not None:
                writer.add_scalar(
                    LOSS_TAGS["validation"], math.log10(max(hist.validation[-1], 1e-30)), epoch + 1
                )
        if log_every and (epoch == 0 or (epoch + 1) % log_every == 0 or epoch == epochs - 1):
            msg = f"epoch {epoch + 1:5d}  train MSE {hist.train[-1]:.3e}"  # 1, 2, ...: as in TensorBoard
            if val_loader is not None:
                msg += f"  validation MSE {hist.validation[-1]:.3e}"
            print(msg)
        if patience is not None and val_loader is not None and epoch - hist.best_epoch >= patience:
            hist.early_stopped = True
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return hist


@torch.no_grad()
def predict(model: nn.Module, r: torch.Tensor) -> torch.Tensor:
    model.eval()
    return model(r)


def predict_force(model: nn.Module, r: torch.Tensor) -> torch.Tensor:
    """F = -dE/dr of the model by automatic differentiation."""
    model.eval()
    r = r.clone().requires_grad_(True)
    energy = model(r)
    (grad,) = torch.autograd.grad(energy.sum(), r, allow_unused=True)
    if grad is None:  # a one-hot descriptor is piecewise constant: its derivative is zero
        return torch.zeros_like(r).detach()
    return -grad.detach()
