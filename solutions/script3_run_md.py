"""Worked solutions to script3_run_md.py's exercises (slide "Getting to MD in 1 minute", step 3: MD).

Run all: ``python solutions/script3_run_md.py``; one: ``python solutions/script3_run_md.py 4``.
Every run uses the model of script2's defaults (``--model-file``; trained first if there is none).
"""

import re
from pathlib import Path

import numpy as np

from solutions import main, run_lesson
from solutions.script1_prepare_data import output_root
from solutions.script2_train_schnet import trained_model


def run_md(*args, out=None, quick=False) -> dict:
    """script3 with the model of script2's defaults and command-line settings ``args``: its result
    line (a dict, with "stdout") and "trajectory", the path of the trajectory this run wrote."""
    model = trained_model(out, quick)
    result = run_lesson("script3_run_md.py", "--model-file", model, *args, out=out, quick=quick)
    folder = output_root(out) / "schnet_tutorial" / "ase_calcs"
    result["trajectory"] = max(folder.glob("simulation_*.traj"), key=lambda p: p.stat().st_mtime)
    return result


# %% Exercise 1
# Kind: read the figure
# Time: 10 min
# Practises: what a temperature of 9 atoms means; canonical fluctuations
# Checked by: tests/test_solutions_schnet.py (the order of magnitude, with --quick);
#    benchmarks/check_solutions.py (the numbers at the defaults)
# Change: none: run script3 and read figures/schnet_md_energies.png (or the code below).
# Answer (measured 2026-12-06 on the 2-core VM, script2's and script3's defaults): canonical statistics
#    predict :math:`300\,\mathrm{K} \times \sqrt{2 / 24} = 87\,\mathrm{K}`; over the second half of the run
#    (every 5th step, as the trajectory holds them) the temperature had a mean of 337 K and a standard
#    deviation of 80 K (97 K predicted for that mean), swinging between 176 and 569 K. Tens of K, not a few:
#    on any machine.
# Why: the temperature of a molecule is its kinetic energy counted per degree of freedom, and with 24 of
#    them the kinetic energy fluctuates by :math:`\sqrt{2 / 24} = 29\,\%` of its mean: in a canonical ensemble
#    the relative fluctuation falls as :math:`1 / \sqrt{N}`. A mole of ethanol would show none; 9 atoms do.


def temperature_statistics(trajectory) -> dict:
    """Mean and standard deviation of the temperature (K) over the second half of a trajectory, its
    range there, and the canonical prediction T sqrt(2 / N_dof) for that mean."""
    from ase.io import Trajectory

    with Trajectory(str(trajectory)) as frames:
        dof = 3 * len(frames[0]) - 3  # FixCom: the centre of mass does not move
        temperatures = np.array([atoms.get_temperature() for atoms in frames])
    settled = temperatures[len(temperatures) // 2 :]  # the first half is the thermostat's warm-up
    return {
        "mean_K": float(settled.mean()),
        "std_K": float(settled.std()),
        "min_K": float(settled.min()),
        "max_K": float(settled.max()),
        "predicted_std_K": float(settled.mean() * np.sqrt(2 / dof)),
    }


def exercise_1(out=None, quick=False):
    return temperature_statistics(run_md(out=out, quick=quick)["trajectory"])


# %% Exercise 2
# Kind: predict, then run
# Time: 10 min
# Practises: the error of an integrator; choosing a time step
# Checked by: tests/test_solutions_schnet.py (the direction and the order of magnitude, with --quick)
# Change: ``--thermostat nve``, then ``--thermostat nve --timestep-fs 1``
# Answer (measured 2026-12-06 on the 2-core VM, the model of script2's defaults): the largest deviation
#    of the total energy (over the trajectory's frames) grew from 0.43 meV/atom at 0.5 fs to 2.0 meV/atom
#    at 1 fs: 4.6x for twice the step, about the 4x of the step squared. (At 2 fs the run stopped after
#    107 steps: the total energy had moved by 51 meV/atom, the stability check's bound.)
# Why: velocity Verlet is a second-order integrator: the energy it conserves exactly is that of a
#    "shadow" surface that differs from the true one by a term proportional to the time step squared,
#    so the total energy oscillates by an amount that grows as :math:`\Delta t^2` (and does not drift away).


def largest_deviation(trajectory) -> float:
    """The largest deviation of the total energy from its start (meV/atom) along a trajectory (the
    frames it holds: every TRAJ_INTERVAL-th step). script3 prints the same over every step, rounded."""
    from ase.io import Trajectory

    with Trajectory(str(trajectory)) as frames:
        total = np.array([a.get_potential_energy() + a.get_kinetic_energy() for a in frames])
        n_atoms = len(frames[0])
    return float(np.abs(total - total[0]).max() / n_atoms * 1000)


def exercise_2(out=None, quick=False):
    small = run_md("--thermostat", "nve", "--timestep-fs", 0.5, out=out, quick=quick)
    large = run_md("--thermostat", "nve", "--timestep-fs", 1, out=out, quick=quick)
    dev_small, dev_large = largest_deviation(small["trajectory"]), largest_deviation(large["trajectory"])
    return {"deviation_0.5fs_meV_atom": dev_small, "deviation_1fs_meV_atom": dev_large,
            "ratio": dev_large / dev_small}  # fmt: skip


# %% Exercise 3
# Kind: predict, then run
# Time: 5 min
# Practises: the time step against the fastest vibration; what a blown-up MD looks like
# Checked by: tests/test_solutions_schnet.py (with --quick)
# Change: ``--timestep-fs 5``
# Answer (measured 2026-12-06 on the 2-core VM, the model of script2's defaults): no: the run stopped at
#    step 2 (10 fs), "bond C1-H4 stretched to 2.70 Å (2.17 x its start length 1.24 Å)"; script3 exits
#    with that one line and keeps the trajectory up to there. The tests see the same with script2's
#    --quick model: the step, not the model, breaks the molecule.
# Why: a time step must resolve the fastest motion: about 10 steps per period of the O-H stretch (9 fs),
#    so at most about 1 fs. At 5 fs a step is more than half a period: each step overshoots, the bond
#    gains energy step after step, and the stability check stops the run when a bond breaks.


def exercise_3(out=None, quick=False):
    try:
        result = run_md("--timestep-fs", 5, out=out, quick=quick)
        return {"survived": True, "steps_per_s": result["steps_per_s"]}
    except RuntimeError as exc:  # script3 stops with "error: the MD run blew up: ..." and exit code 1
        found = re.search(r"at step (\d+) \(t = ([\d.]+) fs\)", str(exc))
        return {"survived": False, "message": str(exc), "step": int(found.group(1)) if found else None}


# %% Exercise 4
# Kind: write code
# Time: 20 min
# Practises: analysing a trajectory with ASE; bond lengths and their thermal spread
# Checked by: tests/test_solutions_schnet.py (the order of the bonds, the figure, with --quick)
# Change: the function below (it also draws figures/md_bond_lengths.png).
# Answer (measured 2026-12-06 on the 2-core VM, a default run): mean (standard deviation) in Å: O-H
#    0.979 (0.031), C-H 1.117 (0.031), C-O 1.423 (0.037), C-C 1.536 (0.040). O-H is the shortest, C-C
#    the longest, as in any ethanol; C-C fluctuates most in Å, O-H most relative to its length (3 %).
# Why: the bond lengths follow the atoms' covalent radii (H smallest, C largest of the three elements); a
#    bond's thermal spread is about :math:`\sqrt{k_B T / k}` for a stretch of stiffness k: the C-C stretch is
#    the softest of the four, the O-H stretch the stiffest, but the O-H bond is the shortest.


def bond_lengths(trajectory, figure=None) -> dict:
    """{bond type: (mean, standard deviation)} in Å of the bonded pairs (closer than 1.2 x the sum of
    covalent radii in the first frame) over a trajectory; a histogram per type into ``figure``."""
    import matplotlib.pyplot as plt
    from ase.data import covalent_radii
    from ase.io import Trajectory

    with Trajectory(str(trajectory)) as frames:
        positions = np.array([atoms.positions for atoms in frames])  # (frames, atoms, 3)
        first = frames[0]
    symbols, radii = first.get_chemical_symbols(), covalent_radii[first.numbers]
    lengths = {}
    for i in range(len(first)):
        for j in range(i + 1, len(first)):
            d = np.linalg.norm(positions[:, i] - positions[:, j], axis=1)
            if d[0] < 1.2 * (radii[i] + radii[j]):
                lengths.setdefault("-".join(sorted((symbols[i], symbols[j]))), []).append(d)
    lengths = {name: np.concatenate(d) for name, d in lengths.items()}
    if figure:
        fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
        for name, d in sorted(lengths.items(), key=lambda item: item[1].mean()):
            ax.hist(d, bins=40, histtype="step", lw=1.5, label=f"{name}: {d.mean():.3f} ± {d.std():.3f} Å")
        ax.set(
            xlabel="bond length (Å)",
            ylabel="frames x bonds",
            title=f"bond lengths along {Path(trajectory).name}",
        )
        ax.legend()
        fig.savefig(figure, dpi=100)
        plt.close(fig)
    return {name: (float(d.mean()), float(d.std())) for name, d in lengths.items()}


def exercise_4(out=None, quick=False):
    trajectory = run_md(out=out, quick=quick)["trajectory"]
    figure = output_root(out) / "figures" / "md_bond_lengths.png"
    figure.parent.mkdir(parents=True, exist_ok=True)
    found = bond_lengths(trajectory, figure)
    result = {f"{name}_mean_A": mean for name, (mean, _) in found.items()}
    result.update({f"{name}_std_A": std for name, (_, std) in found.items()})
    return {**result, "figure": str(figure)}


if __name__ == "__main__":
    main(globals())
