"""Quiet the libraries' notes that do not concern a student; imported first by every SchNet module.

SchNetPack's import calls torch.jit.script, which PyTorch now flags as deprecated; Lightning prints
tips and notes on every run (data in memory need no workers, the task stores the model in its
hyperparameters, the model folder holds split.npz, ...). Set here, not in __init__.py: a folder
named schnet_tutorial in the working directory (an output folder) can shadow the package's
__init__ in a notebook kernel.
"""

import logging
import os
import sys
import warnings

warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
for _message in (
    ".*does not have many workers",
    ".*is an instance of `nn.Module` and is already saved",
    ".*Checkpoint directory .* exists and is not empty",
    ".*isinstance\\(treespec, LeafSpec\\)",
    ".*Trying to infer the `batch_size`",
    ".*sync_dist=True",
    ".*Grad strides do not match",
    ".*smaller than the logging interval",
):
    warnings.filterwarnings("ignore", message=_message)
for _name in ("pytorch_lightning.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero"):
    logging.getLogger(_name).setLevel(logging.WARNING)  # "GPU available: False", tips, ...

# A training on several devices (DEVICES or NUM_NODES > 1) runs the whole script once per process:
# only the first process (rank 0) speaks; the others' output would repeat it, or, about the files
# only the first one writes, be wrong. (Their errors on stderr still show.)
from pytorch_lightning.utilities.rank_zero import rank_zero_only  # noqa: E402

if rank_zero_only.rank != 0:
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115  (for the life of the process)
