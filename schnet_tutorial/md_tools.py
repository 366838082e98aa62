"""Molecular dynamics helpers for the SchNet tutorial (used by ``script3_run_md.py``).

What is in here
  load_model            load a SchNetPack model file with one-line errors for bad paths/files
  make_calculator       an ASE calculator for a molecule: fast NumPy SchNet, generic torch, or
                        SchNetPack's own ``SpkCalculator`` (the reference)
  NumpySchNet           SchNet energy and analytic forces in NumPy (same numbers as SchNetPack)
  TorchPotential        any SchNetPack potential, inputs built directly as tensors
  StabilityMonitor      stops a run whose bonds stretch/compress too far or whose energy drifts
  EnergyRecorder        energies and temperature at every step, for the plots
  archive_previous      moves an earlier simulation.traj/log aside instead of overwriting it
  write_gif             animated GIF of a trajectory without a display

Why a NumPy SchNet? For ethanol (9 atoms, 72 atom pairs) one MD step is a few hundred tiny matrix
products. PyTorch spends ~10 microseconds of Python/dispatcher overhead per operation, forward and
backward, so ``SpkCalculator`` needs ~2.5 ms per step (~400 steps/s) although the arithmetic takes
a few microseconds. Evaluating the *same* trained weights with NumPy, the forces written out as
the chain rule of the energy (F = -dE/dR), and skipping ASE's neighbour list (for a small molecule
all atom pairs are used; SchNet's cosine cutoff gives zero weight to pairs beyond the cutoff),
makes a step several times faster. The tests check that energies and forces equal SchNetPack's
and that the forces are -dE/dR by finite differences. Models that are not plain SchNet (e.g.
PaiNN) run through ``TorchPotential``, which still skips the neighbour list.
"""

from __future__ import annotations

import datetime
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
from ase.calculators.calculator import (
    Calculator,
    PropertyNotImplementedError,
    all_changes,
)
from ase.data import covalent_radii

# SchNetPack's import uses torch.jit.script, which PyTorch now flags as deprecated: not our concern
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)

__all__ = [
    "MDSetupError",
    "MDBlowUpError",
    "model_file",
    "load_model",
    "model_energy_unit",
    "model_cutoff",
    "NumpySchNet",
    "TorchPotential",
    "MoleculeCalculator",
    "make_calculator",
    "read_structures",
    "start_geometry",
    "StabilityMonitor",
    "EnergyRecorder",
    "archive_previous",
    "write_gif",
]


class MDSetupError(Exception):
    """A problem with the inputs of an MD run; the message is one line that says what to change."""


class MDBlowUpError(Exception):
    """The simulation became unphysical (bond broken, atoms collided, energy not conserved)."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


# ------------------------------------------------------------------------------------------------
# Loading a model
# ------------------------------------------------------------------------------------------------
def model_file(path) -> Path:
    """The model file for ``path`` (a file, or a folder holding ``best_model``); MDSetupError if none."""
    path = Path(path)
    if path.is_dir():
        if (path / "best_model").is_file():
            return path / "best_model"
        raise MDSetupError(f"no model file 'best_model' in the folder {path}")
    if not path.is_file():
        raise MDSetupError(
            f"model file not found: {path} (train one with script2_train_schnet.py or give "
            "--model PATH to a SchNetPack model file)"
        )
    return path


def load_model(path, device: str = "cpu") -> torch.nn.Module:
    """Load a SchNetPack model file (``best_model`` written by SchNetPack/this tutorial).

    ``path`` may also be a folder that holds a ``best_model`` file. Raises MDSetupError with a
    one-line message for a missing path, a file that is not a model, or a model without forces.
    Model files are pickles: only load files you trust.
    """
    import schnetpack as spk

    path = model_file(path)
    try:  # first a plain torch.load, to say clearly what the file holds if it is not a model
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(str(path), map_location=device, weights_only=False)
    except Exception as exc:  # torch.load raises many kinds (UnpicklingError, RuntimeError, ...)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MDSetupError(
            f"{path} is not a SchNetPack model file ({type(exc).__name__}: {reason[:120]})"
        ) from None
    if isinstance(obj, dict):
        hint = (
            " (it looks like a PyTorch Lightning checkpoint; use the 'best_model' file instead)"
            if "state_dict" in obj
            else ""
        )
        raise MDSetupError(f"{path} is not a SchNetPack model file{hint}")
    if isinstance(obj, spk.task.AtomisticTask):
        model = obj.model
    elif isinstance(obj, spk.model.AtomisticModel):
        model = obj
    else:
        raise MDSetupError(
            f"{path} holds a {type(obj).__name__}, not a SchNetPack model (AtomisticModel)"
        )
    if getattr(model, "spk_version", None) != spk.__version__ and model is obj:
        # SchNetPack's loader updates models saved by older SchNetPack versions
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = spk.utils.load_model(str(path), device=device)
    if "forces" not in (model.model_outputs or []) or "energy" not in model.model_outputs:
        raise MDSetupError(
            f"the model in {path} predicts {model.model_outputs}, but MD needs 'energy' and "
            "'forces' (train it with forces, e.g. script2_train_schnet.py)"
        )
    return model.eval()


def model_energy_unit(model_path, default: str = "eV") -> str:
    """The energy unit a model predicts, from a JSON file saved next to it, else ``default``.

    A SchNetPack model file does not record units. The tutorial's training script writes them
    into a JSON file in the model folder (key ``energy_unit``, or ``units: {"energy": ...}``).
    """
    import json

    folder = Path(model_path)
    folder = folder if folder.is_dir() else folder.parent
    for js in sorted(folder.glob("*.json")):
        try:
            info = json.loads(js.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(info, dict):
            continue
        unit = info.get("energy_unit")
        if unit is None and isinstance(info.get("units"), dict):
            unit = info["units"].get("energy")
        if isinstance(unit, str) and unit:
            return unit
    return default


def model_cutoff(model: torch.nn.Module) -> float:
    """The cutoff radius (Å) of a SchNetPack representation (SchNet, PaiNN, SO3net, ...)."""
    rep = getattr(model, "representation", None)
    for obj in (rep, getattr(rep, "cutoff_fn", None)):
        cutoff = getattr(obj, "cutoff", None)
        if cutoff is not None:
            return float(torch.as_tensor(cutoff).reshape(-1)[0])
    raise MDSetupError("cannot find the cutoff radius of this model's representation")


# ------------------------------------------------------------------------------------------------
# Evaluators: positions (Å) -> energy, forces in the model's units
# ------------------------------------------------------------------------------------------------
def _all_pairs(n_atoms: int):
    """Index arrays i, j of all ordered pairs i != j (SchNetPack's neighbour list convention)."""
    i, j = np.nonzero(~np.eye(n_atoms, dtype=bool))
    return i, j


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for large |x|


_LOG2 = math.log(2.0)


class _Act:
    """An activation function; ``both(z)`` returns its values and derivatives together."""

    def __init__(self, kind: str):
        self.kind = kind

    def both(self, z):
        if self.kind == "identity":
            return z, None
        if z.max() < 30.0:  # fast path: exp cannot overflow
            ez = np.exp(z)
            sig = 1.0 - 1.0 / (1.0 + ez)
            softplus = np.log1p(ez)
        else:  # numerically stable form for large arguments
            sig = _sigmoid(z)
            softplus = np.logaddexp(0.0, z)
        if self.kind == "ssp":  # shifted softplus, SchNet's activation: ln(1 + e^z) - ln 2
            return softplus - _LOG2, sig
        return z * sig, sig * (1.0 + z * (1.0 - sig))  # silu


def _activation_kind(act) -> str | None:
    import torch.nn.functional as F
    from schnetpack.nn.activations import shifted_softplus

    if act is None or isinstance(act, torch.nn.Identity):
        return "identity"
    if act is shifted_softplus:
        return "ssp"
    if act is F.silu or isinstance(act, torch.nn.SiLU):
        return "silu"
    return None


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy().copy()


class NumpySchNet:
    """Energy and forces of a trained SchNetPack SchNet potential, evaluated with NumPy.

    The weights are copied from the model once; every call computes
      E = sum_i MLP(x_i),  x_i <- x_i + f2out( sum_j in2f(x_j) * W(d_ij) * fcut(d_ij) )
    for all atom pairs and the forces F = -dE/dR by the chain rule (backpropagation written out),
    in float64. Only plain SchNet models are supported: use ``NumpySchNet.unsupported(model)`` to
    ask, and ``TorchPotential`` otherwise.
    """

    @staticmethod
    def unsupported(model) -> str | None:
        """None if the model can be evaluated here, else the reason why not."""
        import schnetpack as spk
        from schnetpack.transform import AddOffsets, CastTo32, CastTo64

        if not isinstance(model, spk.model.NeuralNetworkPotential):
            return f"{type(model).__name__} is not a NeuralNetworkPotential"
        if [type(m) for m in model.input_modules] != [spk.atomistic.PairwiseDistances]:
            return "input modules other than PairwiseDistances"
        rep = model.representation
        if type(rep) is not spk.representation.SchNet:
            return f"representation {type(rep).__name__} is not SchNet"
        if len(rep.electronic_embeddings) or type(rep.embedding) is not torch.nn.Embedding:
            return "custom or electronic embeddings"
        if type(rep.radial_basis) not in (spk.nn.GaussianRBF, spk.nn.GaussianRBFCentered):
            return f"radial basis {type(rep.radial_basis).__name__}"
        if type(rep.cutoff_fn) is not spk.nn.CosineCutoff:
            return f"cutoff function {type(rep.cutoff_fn).__name__}"
        for inter in rep.interactions:
            if type(inter) is not spk.representation.SchNetInteraction:
                return "non-standard interaction block"
            acts = [inter.filter_network[0].activation, inter.filter_network[1].activation,
                    inter.f2out[0].activation, inter.f2out[1].activation,
                    inter.in2f.activation]
            kinds = [_activation_kind(a) for a in acts]
            if kinds[0] != _activation_kind(rep.interactions[0].filter_network[0].activation):
                return "different filter activations in different blocks"
            if kinds[0] not in ("ssp", "silu") or kinds[2] not in ("ssp", "silu") or any(
                k != "identity" for k in kinds[1:2] + kinds[3:]
            ):
                return "unsupported activation in an interaction block"
            if inter.in2f.bias is not None:
                return "interaction with an in2f bias"
        outs = list(model.output_modules)
        if len(outs) != 2 or type(outs[0]) is not spk.atomistic.Atomwise or type(
            outs[1]
        ) is not spk.atomistic.Forces:
            return "output modules other than [Atomwise energy, Forces]"
        atomwise, forces = outs
        if (
            atomwise.aggregation_mode != "sum"
            or atomwise.n_out != 1
            or atomwise.per_atom_output_key is not None
            or atomwise.output_key != forces.energy_key
            or forces.calc_stress
            or not forces.calc_forces
        ):
            return "energy output is not a plain sum of atomic energies"
        for layer in atomwise.outnet:
            if type(layer) is not spk.nn.Dense or _activation_kind(layer.activation) is None:
                return "unsupported layer in the energy MLP"
        if model.do_postprocessing:
            for pp in model.postprocessors:
                if isinstance(pp, (CastTo32, CastTo64)):
                    continue
                if isinstance(pp, AddOffsets) and pp._property == atomwise.output_key:
                    continue
                return f"postprocessor {type(pp).__name__}"
        return None

    def __init__(self, model, numbers):
        reason = self.unsupported(model)
        if reason is not None:
            raise ValueError(f"NumpySchNet cannot evaluate this model: {reason}")
        rep = model.representation
        numbers = np.asarray(numbers)
        self.n_atoms = n = len(numbers)
        self.energy_key = model.output_modules[0].output_key
        self.force_key = model.output_modules[1].force_key

        # geometry: pair p joins atoms i[p] -> j[p]; Rij = R[j] - R[i] = D @ R
        self.idx_i, self.idx_j = _all_pairs(n)
        n_pairs = len(self.idx_i)
        self.D = np.zeros((n_pairs, n))
        self.D[np.arange(n_pairs), self.idx_j] += 1.0
        self.D[np.arange(n_pairs), self.idx_i] -= 1.0
        self.DT = np.ascontiguousarray(self.D.T)
        self.Gj = np.zeros((n_pairs, n))  # gather x_j for every pair
        self.Gj[np.arange(n_pairs), self.idx_j] = 1.0
        self.GjT = np.ascontiguousarray(self.Gj.T)
        self.Si = np.zeros((n, n_pairs))  # sum over pairs with centre atom i
        self.Si[self.idx_i, np.arange(n_pairs)] = 1.0
        self.SiT = np.ascontiguousarray(self.Si.T)

        # radial basis and cutoff
        self.mu = _np(rep.radial_basis.offsets)
        self.coeff = -0.5 / _np(rep.radial_basis.widths) ** 2
        self.coeff2 = 2.0 * self.coeff
        self.cutoff = float(_np(rep.cutoff_fn.cutoff).reshape(-1)[0])

        # embedding of the (fixed) atomic numbers
        self.x0 = _np(rep.embedding.weight)[numbers]

        # interaction blocks; the first filter layers of all blocks as one matrix
        self.blocks = []
        for inter in rep.interactions:
            f1, f2 = inter.filter_network[0], inter.filter_network[1]
            o1, o2 = inter.f2out[0], inter.f2out[1]
            self.blocks.append(
                dict(
                    Win=_np(inter.in2f.weight).T.copy(),
                    Wf1=_np(f1.weight).T, bf1=_np(f1.bias), act_f=_Act(_activation_kind(f1.activation)),
                    Wf2=_np(f2.weight).T.copy(), bf2=_np(f2.bias),
                    Wo1=_np(o1.weight).T.copy(), bo1=_np(o1.bias), act_o=_Act(_activation_kind(o1.activation)),
                    Wo2=_np(o2.weight).T.copy(), bo2=_np(o2.bias),
                )
            )
        self.n_filters = self.blocks[0]["Wf2"].shape[0]
        self.act_filter = self.blocks[0]["act_f"]
        self.Wf1_all = np.ascontiguousarray(np.concatenate([b["Wf1"] for b in self.blocks], axis=1))
        self.bf1_all = np.concatenate([b["bf1"] for b in self.blocks])
        self.Wf1_allT = np.ascontiguousarray(self.Wf1_all.T)
        for b in self.blocks:
            b["Wf2T"] = np.ascontiguousarray(b["Wf2"].T)
            b["Wo1T"] = np.ascontiguousarray(b["Wo1"].T)
            b["Wo2T"] = np.ascontiguousarray(b["Wo2"].T)
            b["WinT"] = np.ascontiguousarray(b["Win"].T)

        # energy MLP
        self.out_layers = [
            (_np(layer.weight).T.copy(), _np(layer.bias) if layer.bias is not None else 0.0,
             _Act(_activation_kind(layer.activation)))
            for layer in model.output_modules[0].outnet
        ]
        self.out_layers_T = [np.ascontiguousarray(W.T) for W, _, _ in self.out_layers]

        # constant energy offsets added by the model's postprocessors (mean, atom references)
        self.energy_offset = 0.0
        if model.do_postprocessing:
            from schnetpack.transform import AddOffsets

            for pp in model.postprocessors:
                if isinstance(pp, AddOffsets):
                    if pp.add_mean:
                        mean = float(_np(pp.mean).reshape(-1)[0])
                        self.energy_offset += mean * n if pp.is_extensive else mean
                    if pp.add_atomrefs:
                        ref = float(_np(pp.atomref)[numbers].sum())
                        self.energy_offset += ref if pp.is_extensive else ref / n

    def __call__(self, positions: np.ndarray):
        """Energy (model units) and forces (model energy unit / Å) for positions (N, 3) in Å."""
        R = np.asarray(positions, dtype=np.float64)
        Rij = self.D @ R
        d = np.sqrt(np.einsum("pk,pk->p", Rij, Rij))
        diff = d[:, None] - self.mu
        g = np.exp(self.coeff * diff * diff)  # Gaussian radial basis (P, n_rbf)
        arg = (math.pi / self.cutoff) * d
        fc = 0.5 * (np.cos(arg) + 1.0)  # cosine cutoff and its derivative
        dfc_dd = (-0.5 * math.pi / self.cutoff) * np.sin(arg)
        if d.max() >= self.cutoff:
            outside = d >= self.cutoff
            fc[outside] = 0.0
            dfc_dd[outside] = 0.0

        # ---- forward ----
        # first filter layer of every interaction block in one product
        A1, dA1 = self.act_filter.both(g @ self.Wf1_all + self.bf1_all)
        F = self.n_filters
        x = self.x0
        cache = []
        for t, b in enumerate(self.blocks):
            W = A1[:, t * F:(t + 1) * F] @ b["Wf2"] + b["bf2"]  # filter W(d_ij)
            Wc = W * fc[:, None]
            yj = self.Gj @ (x @ b["Win"])  # in2f(x_j) for every pair
            s = self.Si @ (yj * Wc)  # continuous-filter convolution: sum over neighbours j
            a2, da2 = b["act_o"].both(s @ b["Wo1"] + b["bo1"])
            x = x + a2 @ b["Wo2"] + b["bo2"]
            cache.append((W, Wc, yj, da2))
        h = x
        grads = []
        for W, bias, act in self.out_layers:
            h, dh = act.both(h @ W + bias)
            grads.append(dh)
        energy = float(h.sum()) + self.energy_offset

        # ---- backward: dE/d(everything), ending with dE/dR ----
        dh = np.ones_like(h)
        for WT, da in zip(reversed(self.out_layers_T), reversed(grads)):
            dh = (dh if da is None else dh * da) @ WT
        dx = dh
        dH1 = np.empty_like(A1)
        dfc = np.zeros_like(d)
        for t in range(len(self.blocks) - 1, -1, -1):
            b = self.blocks[t]
            W, Wc, yj, da2 = cache[t]
            ds = ((dx @ b["Wo2T"]) * da2) @ b["Wo1T"]
            dm = self.SiT @ ds  # d/d(message of pair p) = ds of its centre atom
            dWc = dm * yj
            if t > 0:  # the embedding x0 does not depend on positions
                dx = dx + (self.GjT @ (dm * Wc)) @ b["WinT"]
            dfc += np.einsum("pf,pf->p", dWc, W)
            dH1[:, t * F:(t + 1) * F] = (dWc * fc[:, None]) @ b["Wf2T"]
        dg = (dH1 * dA1) @ self.Wf1_allT
        dd = np.einsum("pk,pk->p", dg, g * diff * self.coeff2) + dfc * dfc_dd
        dR = self.DT @ ((dd / d)[:, None] * Rij)
        return energy, -dR


class TorchPotential:
    """Any SchNetPack potential for one molecule, inputs built directly as tensors.

    Replaces ``SpkCalculator``'s AtomsConverter + ASE neighbour list: the pair list (all pairs
    within the model's cutoff) is computed from the positions with NumPy and reused while it does
    not change. Forces come from the model (autograd), so this works for SchNet, PaiNN, SO3net.
    """

    def __init__(self, model, numbers, dtype=torch.float64):
        from schnetpack import properties as P

        self.model = model.to(dtype).eval()
        self.dtype = dtype
        self.cutoff = model_cutoff(model)
        self.energy_key = P.energy
        self.force_key = P.forces
        n = len(numbers)
        self.n_atoms = n
        self.idx_i, self.idx_j = _all_pairs(n)
        self._base = {
            P.Z: torch.as_tensor(np.asarray(numbers), dtype=torch.long),
            P.n_atoms: torch.tensor([n]),
            P.idx_m: torch.zeros(n, dtype=torch.long),
            P.cell: torch.zeros((1, 3, 3), dtype=dtype),
            P.pbc: torch.zeros((1, 3), dtype=torch.bool),
            P.idx: torch.tensor([0]),
        }
        self._P = P
        self._mask = None
        self._pairs = None

    def __call__(self, positions: np.ndarray):
        P = self._P
        R = np.asarray(positions, dtype=np.float64)
        rij = R[self.idx_j] - R[self.idx_i]
        mask = np.einsum("pk,pk->p", rij, rij) < self.cutoff**2
        if self._mask is None or not np.array_equal(mask, self._mask):
            self._mask = mask
            i, j = self.idx_i[mask], self.idx_j[mask]
            self._pairs = {
                P.idx_i: torch.as_tensor(i, dtype=torch.long),
                P.idx_j: torch.as_tensor(j, dtype=torch.long),
                P.offsets: torch.zeros((len(i), 3), dtype=self.dtype),
            }
        inputs = dict(self._base)
        inputs.update(self._pairs)
        inputs[P.R] = torch.tensor(R, dtype=self.dtype)
        with torch.enable_grad():
            out = self.model(inputs)
        energy = float(out[self.energy_key].detach().reshape(-1)[0])
        forces = out[self.force_key].detach().cpu().double().numpy()
        return energy, forces


# ------------------------------------------------------------------------------------------------
# ASE calculator
# ------------------------------------------------------------------------------------------------
class MoleculeCalculator(Calculator):
    """ASE calculator around an evaluator (NumpySchNet or TorchPotential) for one molecule.

    Results are cached like any ASE calculator, but the "did the atoms change?" test compares
    arrays directly instead of copying and comparing whole Atoms objects (which costs more than
    the NumPy SchNet itself for a small molecule).
    """

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, model, atoms, energy_unit="eV", backend: str = "auto", **kwargs):
        from schnetpack.units import convert_units

        super().__init__(**kwargs)
        if atoms.pbc.any():
            raise MDSetupError(
                "the fast calculator is for molecules without periodic boundary conditions; "
                "use --calculator spk"
            )
        if backend == "auto":
            backend = "numpy" if NumpySchNet.unsupported(model) is None else "torch"
        if backend == "numpy":
            self.potential = NumpySchNet(model, atoms.numbers)
        elif backend == "torch":
            self.potential = TorchPotential(model, atoms.numbers)
        else:
            raise MDSetupError(f"unknown backend {backend!r} (use auto, numpy or torch)")
        self.backend = backend
        self.energy_conversion = float(convert_units(energy_unit, "eV"))
        self._numbers = atoms.numbers.copy()
        self._positions = None

    def check_state(self, atoms, tol=1e-15):
        if self._positions is None:
            return list(all_changes)
        changes = []
        if not np.array_equal(atoms.positions, self._positions):
            changes.append("positions")
        if not np.array_equal(atoms.numbers, self._numbers):
            changes.append("numbers")
        if atoms.pbc.any():
            changes.append("pbc")
        return changes

    def get_property(self, name, atoms=None, allow_calculation=True):
        if name not in self.implemented_properties:
            raise PropertyNotImplementedError(f"{name} property not implemented")
        if atoms is not None and self.check_state(atoms):
            self.results = {}
        if name not in self.results:
            if not allow_calculation:
                return None
            self.calculate(atoms, [name], all_changes)
        result = self.results[name]
        return result.copy() if isinstance(result, np.ndarray) else result

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        if atoms is None:
            atoms = self.atoms
        if not np.array_equal(atoms.numbers, self._numbers):
            raise MDSetupError("this calculator was made for a different molecule")
        if atoms.pbc.any():
            raise MDSetupError("the fast calculator does not handle periodic boundary conditions")
        energy, forces = self.potential(atoms.positions)
        energy *= self.energy_conversion
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": forces * self.energy_conversion,
        }
        self._positions = atoms.positions.copy()
        self.atoms = atoms.copy() if self.atoms is None else self.atoms
        self.atoms.positions[:] = atoms.positions


def make_calculator(model, atoms, energy_unit="eV", kind: str = "auto"):
    """An ASE calculator for ``atoms`` from a loaded SchNetPack model.

    kind: "auto" (NumPy SchNet when the model is plain SchNet, else torch), "numpy", "torch",
    or "spk" (SchNetPack's SpkCalculator with ASE's neighbour list: the slow reference).
    """
    if kind == "spk":
        from schnetpack.interfaces import SpkCalculator
        from schnetpack.transform import ASENeighborList

        return SpkCalculator(
            model=model,
            neighbor_list=ASENeighborList(cutoff=model_cutoff(model)),
            energy_unit=energy_unit,
            position_unit="Angstrom",
        )
    if kind not in ("auto", "numpy", "torch"):
        raise MDSetupError(f"unknown calculator {kind!r} (use auto, numpy, torch or spk)")
    if kind == "numpy":
        reason = NumpySchNet.unsupported(model)
        if reason is not None:
            raise MDSetupError(f"the NumPy calculator needs a plain SchNet model ({reason}); use --calculator torch")
    return MoleculeCalculator(model, atoms, energy_unit=energy_unit, backend=kind)


# ------------------------------------------------------------------------------------------------
# Start geometry
# ------------------------------------------------------------------------------------------------
def read_structures(path, index=":"):
    """ase.io.read, fast for gzip files too (ASE seeks inside .gz files, which is very slow)."""
    import gzip
    import io

    from ase.io import read

    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            text = fh.read()
        name = path.name[: -len(".gz")]
        fmt = "extxyz" if name.endswith((".xyz", ".extxyz")) else None
        if fmt is None:
            from ase.io.formats import filetype

            fmt = filetype(name, read=False)
        return read(io.StringIO(text), index=index, format=fmt)
    return read(str(path), index=index)


def start_geometry(start=None, data_file=None, split_file=None, seed=0):
    """The MD start geometry and a one-line description of where it comes from.

    start: "file" or "file@index" (any ASE-readable file) takes precedence. Otherwise a frame of
    ``data_file``: a seeded random choice among the test indices of ``split_file`` (SchNetPack's
    split.npz with ``test_idx``) when it exists, i.e. a geometry the model never saw in training.
    """
    if start:
        file, _, index = str(start).partition("@")
        if not Path(file).is_file():
            raise MDSetupError(f"start geometry file not found: {file}")
        try:
            atoms = read_structures(file, index=int(index) if index else 0)
        except Exception as exc:
            raise MDSetupError(f"cannot read a structure from {start} ({type(exc).__name__}: {exc})") from None
        return atoms, f"{file}, frame {index or 0}"
    if data_file is None or not Path(data_file).is_file():
        raise MDSetupError(f"data file not found: {data_file}; give a start geometry with --start FILE")
    data_file = Path(data_file)
    try:
        frames = read_structures(data_file)
    except Exception as exc:
        raise MDSetupError(f"cannot read {data_file} ({type(exc).__name__}: {exc}); give --start FILE") from None
    rng = np.random.default_rng(seed)
    if split_file is not None and Path(split_file).is_file():
        test_idx = np.asarray(np.load(split_file)["test_idx"]).reshape(-1)
        test_idx = test_idx[test_idx < len(frames)]
        if len(test_idx):
            k = int(rng.choice(test_idx))
            return frames[k], f"{data_file.name}, frame {k} (test set: not used in training)"
    k = int(rng.integers(len(frames)))
    return frames[k], f"{data_file.name}, frame {k} (no split file next to the model)"


# ------------------------------------------------------------------------------------------------
# Watching the run
# ------------------------------------------------------------------------------------------------
class StabilityMonitor:
    """Raise MDBlowUpError when the simulation becomes unphysical.

    Bonds are the atom pairs closer than 1.2 x the sum of covalent radii in the start geometry.
    The run stops when a bond is longer than ``max_stretch`` x or shorter than ``max_compress`` x
    its start length, when any two atoms come closer than ``min_distance`` Å, when energies or
    positions stop being finite, or (NVE only, ``max_drift_ev_per_atom`` set) when the total
    energy moved more than that from its start value.
    """

    def __init__(self, atoms, max_stretch=1.5, max_compress=0.6, min_distance=0.5,
                 max_drift_ev_per_atom=None, timestep_fs=None, dyn=None):
        if not max_stretch > 1.0 or not 0.0 < max_compress < 1.0:
            raise MDSetupError("bond bounds need max_stretch > 1 and 0 < max_compress < 1")
        self.atoms = atoms
        self.max_stretch = max_stretch
        self.max_compress = max_compress
        self.min_distance = min_distance
        self.max_drift = max_drift_ev_per_atom
        self.timestep_fs = timestep_fs
        R = atoms.positions
        n = len(atoms)
        self.i, self.j = np.triu_indices(n, k=1)
        d = np.linalg.norm(R[self.j] - R[self.i], axis=1)
        radii = covalent_radii[atoms.numbers]
        bonded = d < 1.2 * (radii[self.i] + radii[self.j])
        self.bi, self.bj, self.d0 = self.i[bonded], self.j[bonded], d[bonded]
        self.symbols = atoms.get_chemical_symbols()
        self.e0 = None
        self.dyn = dyn  # if given, its step counter names the step in messages
        self.step = 0
        self.max_drift_seen = 0.0
        self.max_ratio_seen = 1.0  # longest bond / its start length, over the run
        self.min_ratio_seen = 1.0

    def _name(self, a, b):
        return f"{self.symbols[a]}{a}-{self.symbols[b]}{b}"

    def _where(self):
        if self.timestep_fs is None:
            return f"step {self.step}"
        return f"step {self.step} (t = {self.step * self.timestep_fs:g} fs)"

    def __call__(self):
        if self.dyn is not None:
            self.step = self.dyn.nsteps
        self.check()
        self.step += 1

    def check(self):
        R = self.atoms.positions
        if not np.isfinite(R).all():
            raise MDBlowUpError(f"positions became NaN/inf at {self._where()}", self.step)
        d = np.linalg.norm(R[self.bj] - R[self.bi], axis=1)
        ratio = d / self.d0
        self.max_ratio_seen = max(self.max_ratio_seen, float(ratio.max()))
        self.min_ratio_seen = min(self.min_ratio_seen, float(ratio.min()))
        k = int(np.argmax(ratio))
        if ratio[k] > self.max_stretch:
            raise MDBlowUpError(
                f"bond {self._name(self.bi[k], self.bj[k])} stretched to {d[k]:.2f} Å "
                f"({ratio[k]:.2f} x its start length {self.d0[k]:.2f} Å, bound {self.max_stretch} x) "
                f"at {self._where()}", self.step)
        k = int(np.argmin(ratio))
        if ratio[k] < self.max_compress:
            raise MDBlowUpError(
                f"bond {self._name(self.bi[k], self.bj[k])} compressed to {d[k]:.2f} Å "
                f"({ratio[k]:.2f} x its start length {self.d0[k]:.2f} Å, bound {self.max_compress} x) "
                f"at {self._where()}", self.step)
        dall = np.linalg.norm(R[self.j] - R[self.i], axis=1)
        k = int(np.argmin(dall))
        if dall[k] < self.min_distance:
            raise MDBlowUpError(
                f"atoms {self._name(self.i[k], self.j[k])} came {dall[k]:.2f} Å close "
                f"(bound {self.min_distance} Å) at {self._where()}", self.step)
        epot = self.atoms.get_potential_energy()
        etot = epot + self.atoms.get_kinetic_energy()
        if not np.isfinite(etot):
            raise MDBlowUpError(f"energy became NaN/inf at {self._where()}", self.step)
        if self.e0 is None:
            self.e0 = etot
        drift = abs(etot - self.e0) / len(self.atoms)
        self.max_drift_seen = max(self.max_drift_seen, drift)
        if self.max_drift is not None and drift > self.max_drift:
            raise MDBlowUpError(
                f"total energy drifted by {drift * 1000:.1f} meV/atom (bound "
                f"{self.max_drift * 1000:g} meV/atom) at {self._where()}", self.step)


class EnergyRecorder:
    """Time (fs), potential, kinetic, total energy (eV) and temperature (K) at every call."""

    def __init__(self, atoms, timestep_fs, interval=1):
        self.atoms = atoms
        self.timestep_fs = timestep_fs
        self.interval = interval
        self.calls = 0
        self.rows = []

    def __call__(self):
        epot = self.atoms.get_potential_energy()
        ekin = self.atoms.get_kinetic_energy()
        self.rows.append((self.calls * self.interval * self.timestep_fs, epot, ekin, epot + ekin,
                          self.atoms.get_temperature()))
        self.calls += 1

    def arrays(self):
        """dict of numpy arrays: time_fs, epot, ekin, etot (eV), temperature (K)."""
        a = np.array(self.rows, dtype=float).reshape(-1, 5)
        return dict(time_fs=a[:, 0], epot=a[:, 1], ekin=a[:, 2], etot=a[:, 3], temperature=a[:, 4])


# ------------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------------
def archive_previous(paths, stamp: str | None = None):
    """Move existing files aside to ``<stem>_<YYYYmmdd-HHMMSS><suffix>`` (same stamp for all).

    Returns the list of (old, new) paths moved. Never overwrites: adds _2, _3, ... if needed.
    """
    paths = [Path(p) for p in paths]
    existing = [p for p in paths if p.exists()]
    if not existing:
        return []
    stamp = stamp or datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    k = 1
    while True:
        tag = stamp if k == 1 else f"{stamp}_{k}"
        targets = [p.with_name(f"{p.stem}_{tag}{p.suffix}") for p in existing]
        if not any(t.exists() for t in targets):
            break
        k += 1
    moved = []
    for p, t in zip(existing, targets):
        try:
            shutil.move(str(p), str(t))
        except OSError as exc:
            raise MDSetupError(
                f"cannot move the previous {p.name} aside ({exc.strerror or exc}); close programs "
                "that have it open (e.g. ase gui) and run again") from None
        moved.append((p, t))
    return moved


def write_gif(traj_path, gif_path, max_frames: int = 100, fps: int = 20,
              rotation: str = "-70x,20y"):
    """Write an animated GIF of a trajectory (matplotlib + Pillow, works without a display)."""
    import matplotlib.pyplot as plt
    from ase.io import read
    from ase.io.animation import write_animation

    images = read(str(traj_path), index=":")
    stride = max(1, math.ceil(len(images) / max_frames))
    images = images[::stride]
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.set_axis_off()
    try:
        write_animation(str(gif_path), images, writer="pillow", interval=1000 // fps, ax=ax,
                        rotation=rotation, radii=0.4)
    finally:
        plt.close(fig)
    return len(images)
