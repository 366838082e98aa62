"""Benchmark: from nothing to an MD trajectory in one minute, and script3's MD speed and agreement.

Measured in one run on this machine (a shared CPU is noisy: compare numbers of one run):
  1. script1 (prepare data) + script2 (train, defaults) + script3 (1000 MD steps, defaults), each a
     fresh Python process (start-up included) writing into an empty temporary output folder
     (ML_TUTORIAL_OUTPUT): wall seconds, and the CPU seconds each process used (user + system;
     less sensitive to other programs on the machine). Target: total <= 60 s.
  2. The test force MAE script2 reports (target <= 0.50 kcal/mol/Å, issue 22; 0.85 before).
  3. MD steps per second, Langevin 300 K, 0.5 fs, script3's stability checks attached, on the model
     just trained and the same start geometry, in this process (1 thread), interleaved rounds:
     script3's calculator ("fast": the model itself, inputs built once) against SchNetPack's
     SpkCalculator with ASE's neighbour list. Target: ratio >= 1.5.
  4. Agreement of the two calculators' energies and forces along an MD trajectory.
  5. Stability of three 1000-step 300 K Langevin runs and the NVE energy drift over 1000 steps.

Usage
  python benchmarks/bench_schnet_minute.py                 # everything, from nothing
  python benchmarks/bench_schnet_minute.py --model M       # MD part only, on a given model file
"""

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "schnet_tutorial"


def run_step(name, script, output_root, args=()):
    """One tutorial script as a fresh process: (wall s, CPU s, stdout)."""
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1", ML_TUTORIAL_OUTPUT=str(output_root))
    env.pop("ML_TUTORIAL_QUICK", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, str(script), *args], cwd=output_root, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if res.returncode != 0:
        print(res.stdout[-3000:], res.stderr[-3000:], sep="\n")
        raise SystemExit(f"bench_schnet_minute.py: {name} failed (exit code {res.returncode})")
    print(f"  {name:26s} {wall:6.1f} s wall {cpu:6.1f} s CPU", flush=True)
    return wall, cpu, res.stdout


def result_line(stdout) -> dict:
    line = next(ln for ln in stdout.splitlines() if ln.startswith("result: "))
    return {k: float(v) for k, v in re.findall(r"(\w+)=([-+\d.eE]+)", line)}


def prepared(atoms0, seed):
    """script3's start: Maxwell-Boltzmann velocities at 300 K, no translation or rotation."""
    import numpy as np
    from ase.constraints import FixCom
    from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta

    atoms = atoms0.copy()
    atoms.calc, atoms.pbc = None, False
    atoms.set_constraint(FixCom())
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature_K=300.0, exact_temperature=True, rng=rng)
    Stationary(atoms)
    ZeroRotation(atoms)
    return atoms, rng


def md_rate(model_path, kind, atoms0, steps, seed=0):
    """(steps/s wall, steps/s CPU) of Langevin MD with script3's stability checks."""
    from ase import units
    from ase.md.langevin import Langevin

    from schnet_tutorial.helpers import md, model_files  # isort: skip (first: it quiets SchNetPack's import)

    atoms, rng = prepared(atoms0, seed)
    atoms.calc = md.make_calculator(model_files.load_model(model_path), atoms, "eV", kind)
    dyn = Langevin(atoms, 0.5 * units.fs, temperature_K=300.0, friction=0.01 / units.fs, fixcm=False, rng=rng)
    dyn.attach(md.StabilityMonitor(atoms, dyn), interval=1)
    atoms.get_forces()  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    dyn.run(steps)
    return steps / (time.perf_counter() - t0), steps / (time.process_time() - c0)


def agreement(model_path, atoms0, steps=200):
    """Largest differences of energy (eV) and force components (eV/Å) between the two calculators
    along a Langevin trajectory (run with the fast one), and the largest |F| for scale."""
    import numpy as np
    from ase import units
    from ase.md.langevin import Langevin

    from schnet_tutorial.helpers import md, model_files  # isort: skip (first: it quiets SchNetPack's import)

    atoms, rng = prepared(atoms0, 5)
    atoms.calc = md.make_calculator(model_files.load_model(model_path), atoms, "eV", "fast")
    reference = md.make_calculator(model_files.load_model(model_path), atoms, "eV", "spk")
    dyn = Langevin(atoms, 0.5 * units.fs, temperature_K=300.0, friction=0.01 / units.fs, fixcm=False, rng=rng)
    de, df, fmax = [], [], []

    def compare():
        other = atoms.copy()
        other.calc = reference
        de.append(abs(atoms.get_potential_energy() - other.get_potential_energy()))
        df.append(np.abs(atoms.get_forces() - other.get_forces()).max())
        fmax.append(np.abs(atoms.get_forces()).max())

    dyn.attach(compare, interval=10)
    dyn.run(steps)
    return max(de), max(df), max(fmax)


def stability_and_drift(model_path, atoms0):
    import numpy as np
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.verlet import VelocityVerlet

    from schnet_tutorial.helpers import md, model_files  # isort: skip (first: it quiets SchNetPack's import)

    model = model_files.load_model(model_path)
    stable = []
    for seed in (1, 2, 3):
        atoms, rng = prepared(atoms0, seed)
        atoms.calc = md.make_calculator(model, atoms)
        dyn = Langevin(
            atoms, 0.5 * units.fs, temperature_K=300.0, friction=0.01 / units.fs, fixcm=False, rng=rng
        )
        monitor = md.StabilityMonitor(atoms, dyn)
        dyn.attach(monitor, interval=1)
        try:
            dyn.run(1000)
            stable.append((seed, "stable", monitor.ratio_range))
        except md.MDBlowUpError as exc:
            stable.append((seed, f"BLEW UP: {exc}", monitor.ratio_range))
    atoms, _ = prepared(atoms0, 1)
    atoms.calc = md.make_calculator(model, atoms)
    dyn = VelocityVerlet(atoms, 0.5 * units.fs)
    etot = []
    dyn.attach(lambda: etot.append(atoms.get_total_energy()), interval=1)
    dyn.run(1000)
    drift = (np.array(etot) - etot[0]) / len(atoms) * 1000  # meV/atom
    return stable, drift[-1], np.abs(drift).max()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="skip script1-3 and measure the MD on this model file")
    p.add_argument("--rounds", type=int, default=3, help="interleaved speed rounds")
    p.add_argument("--keep", action="store_true", help="keep the temporary output folder")
    args = p.parse_args()

    import torch

    torch.set_num_threads(1)  # as script3
    print(
        f"bench_schnet_minute.py: {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}, "
        f"torch {torch.__version__}, Python {sys.version.split()[0]}"
    )
    out = Path(tempfile.mkdtemp(prefix="bench_schnet_"))
    walls, cpus, mae = {}, {}, None
    try:
        if args.model:
            model_path = Path(args.model).resolve()
        else:
            print("From nothing to a trajectory (fresh processes, start-up included, empty output folder):")
            for name, script in (
                ("script1_prepare_data.py", "script1_prepare_data.py"),
                ("script2_train_schnet.py", "script2_train_schnet.py"),
                ("script3_run_md.py", "script3_run_md.py"),
            ):
                walls[name], cpus[name], stdout = run_step(name, TUTORIAL / script, out)
                if name.startswith("script2"):
                    mae = result_line(stdout)["force_mae_kcal_per_mol_A"]
                    print(f"  {'':26s} test force MAE {mae:.3f} kcal/mol/Å")
            print(
                f"  {'total':26s} {sum(walls.values()):6.1f} s wall {sum(cpus.values()):6.1f} s CPU   "
                "(target <= 60 s)"
            )
            os.environ["ML_TUTORIAL_OUTPUT"] = str(out)
            from schnet_tutorial.helpers import md, model_files  # isort: skip (first: it quiets SchNetPack's import)

            model_path = model_files.newest_model(out / "schnet_tutorial" / "models")
        from schnet_tutorial.helpers import md, model_files  # isort: skip (first: it quiets SchNetPack's import)

        atoms0, origin = md.start_geometry("", model_path, seed=42)
        print(f"\nMD on {model_path.parent.name} ({len(atoms0)} atoms, start: {origin})")
        fast, spk = [], []
        for _ in range(args.rounds):
            fast.append(md_rate(model_path, "fast", atoms0, 1000))
            spk.append(md_rate(model_path, "spk", atoms0, 500))
        print(f"  Langevin 300 K, 1 thread, {args.rounds} interleaved rounds (median; wall and CPU steps/s):")
        for name, rates in (
            ("script3's calculator (fast)", fast),
            ("SpkCalculator + ASE neighbour list", spk),
        ):
            wall, cpu = statistics.median(r[0] for r in rates), statistics.median(r[1] for r in rates)
            print(f"    {name:36s} {wall:7.0f} steps/s wall {cpu:7.0f} steps/s CPU")
        ratios = [f[0] / s[0] for f, s in zip(fast, spk)]
        print(
            f"    ratio fast / SpkCalculator            {statistics.median(ratios):7.2f} x "
            f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}; target >= 1.5)"
        )
        de, df, fmax = agreement(model_path, atoms0)
        print(f"  agreement along 200 steps: |dE| <= {de:.1e} eV, |dF| <= {df:.1e} eV/Å", end="")
        print(f" (|F| up to {fmax:.1f} eV/Å)")
        stable, drift_end, drift_max = stability_and_drift(model_path, atoms0)
        for seed, status, (lo, hi) in stable:
            print(
                f"  1000 steps Langevin 300 K, seed {seed}: {status}; bond lengths {lo:.2f}-{hi:.2f} x start"
            )
        print(
            f"  NVE, 1000 steps of 0.5 fs from 300 K: total-energy drift {drift_end:+.2f} meV/atom, "
            f"largest deviation {drift_max:.2f} meV/atom"
        )
        print(f"(load average {os.getloadavg()[0]:.2f} at the end)")
    finally:
        if args.keep:
            print(f"kept {out}")
        else:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
