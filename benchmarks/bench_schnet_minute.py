"""Benchmark (issue 4): from nothing to an MD trajectory in one minute, and MD speed and stability.

Measured in one run on this machine (timings on a shared CPU are noisy: compare the ratios):
  1. Wall time of script1 (prepare data) + script2 (train SchNet, defaults) + script3 (1000 MD
     steps), each a fresh Python process (start-up included) in a temporary copy of
     schnet_tutorial/ without database, models or trajectories. Target: total <= 60 s (2-core CPU).
  2. The test force MAE that script2 reports (target <= 1.0 kcal/mol/Å).
  3. MD steps per second of script3's calculator against SchNetPack's SpkCalculator with ASE's
     neighbour list: same model, start geometry, Langevin integrator, in the same process,
     interleaved rounds (best of each). Target: ~1000 steps/s for ethanol on the CPU.
  4. Stability of 1000-step 300 K Langevin runs (three seeds): no bond beyond the script's bounds.
  5. NVE (velocity Verlet, 0.5 fs) total-energy drift over 1000 steps (target < 5 meV/atom).

Usage
  python benchmarks/bench_schnet_minute.py                      # everything, from nothing
  python benchmarks/bench_schnet_minute.py --keep               # keep the temporary copy
  python benchmarks/bench_schnet_minute.py --model M --data D   # MD part only, on a given model
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine_speed  # noqa: E402
TUTORIAL = ROOT / "schnet_tutorial"
sys.path.insert(0, str(TUTORIAL))

TARGET_TOTAL_S = 60.0
TARGET_FORCE_MAE = 1.0  # kcal/mol/Å
TARGET_STEPS_PER_S = 1000.0
TARGET_DRIFT = 5.0  # meV/atom over 1000 steps


def run_step(name, script, cwd, args=(), allow_exit_1=False):
    """Run one tutorial script as a fresh process; return (wall seconds, stdout).

    allow_exit_1: exit code 1 is reported (script3's "the MD run blew up"), not fatal.
    """
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, str(script), *args], cwd=cwd, env=env,
                         capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode == 1 and allow_exit_1:
        print(f"  {name:34s} {wall:6.1f} s   {res.stderr.strip().splitlines()[-1][:200]}")
        return wall, res.stdout
    if res.returncode != 0:
        print(res.stdout[-3000:])
        print(res.stderr[-3000:])
        raise SystemExit(f"bench_schnet_minute.py: {name} failed (exit code {res.returncode})")
    print(f"  {name:34s} {wall:6.1f} s")
    return wall, res.stdout


def parse_force_mae(text):
    """The test force MAE in kcal/mol/Å from script2's output (None if not found)."""
    for line in text.splitlines():
        low = line.lower()
        if "force" in low and "mae" in low and "kcal/mol" in low:
            m = re.search(r"mae[^0-9\-]*([0-9]+\.?[0-9]*)\s*kcal/mol", low)
            if m:
                return float(m.group(1))
    return None


def newest_model(models_dir: Path) -> Path:
    found = sorted(models_dir.glob("*/best_model"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit(f"bench_schnet_minute.py: no model under {models_dir}")
    return found[-1]


def prepared_atoms(atoms0, temperature, seed):
    import numpy as np
    from ase.constraints import FixCom
    from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta

    atoms = atoms0.copy()
    atoms.calc = None
    atoms.pbc = False
    atoms.set_constraint(FixCom())
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature_K=temperature, exact_temperature=True, rng=rng)
    Stationary(atoms)
    ZeroRotation(atoms)
    return atoms, rng


def md_rate(model_path, kind, atoms0, steps, energy_unit, seed=0):
    """Steps per second of Langevin MD (300 K, 0.5 fs) with calculator ``kind``.

    script3's stability checks run with both calculators; a run that blows up (a bad model) is
    restarted from the start geometry, so that both calculators time ordinary molecular geometries.
    """
    import md_tools
    from ase import units
    from ase.md.langevin import Langevin

    model = md_tools.load_model(model_path)
    done, elapsed, restarts = 0, 0.0, 0
    while done < steps:
        atoms, rng = prepared_atoms(atoms0, 300.0, seed + restarts)
        atoms.calc = md_tools.make_calculator(model, atoms, energy_unit=energy_unit, kind=kind)
        dyn = Langevin(atoms, 0.5 * units.fs, temperature_K=300.0, friction=0.01 / units.fs,
                       fixcm=False, rng=rng)
        atoms.get_forces()  # warm-up
        dyn.attach(md_tools.StabilityMonitor(atoms, dyn=dyn), interval=1)
        t0 = time.perf_counter()
        try:
            dyn.run(steps - done)
        except md_tools.MDBlowUpError:
            restarts += 1
        elapsed += time.perf_counter() - t0
        done += dyn.nsteps
    return steps / elapsed, restarts


def stability_runs(model_path, atoms0, energy_unit, seeds=(1, 2, 3), steps=1000):
    import md_tools
    from ase import units
    from ase.md.langevin import Langevin

    results = []
    model = md_tools.load_model(model_path)
    for seed in seeds:
        atoms, rng = prepared_atoms(atoms0, 300.0, seed)
        atoms.calc = md_tools.make_calculator(model, atoms, energy_unit=energy_unit)
        dyn = Langevin(atoms, 0.5 * units.fs, temperature_K=300.0, friction=0.01 / units.fs,
                       fixcm=False, rng=rng)
        monitor = md_tools.StabilityMonitor(atoms, timestep_fs=0.5, dyn=dyn)  # script3's bounds
        dyn.attach(monitor, interval=1)
        try:
            dyn.run(steps)
            status = "stable"
        except md_tools.MDBlowUpError as exc:
            status = f"BLEW UP: {exc}"
        results.append((seed, status, monitor.max_ratio_seen, monitor.min_ratio_seen))
    return results


def nve_drift(model_path, atoms0, energy_unit, steps=1000, seed=1):
    import numpy as np

    import md_tools
    from ase import units
    from ase.md.verlet import VelocityVerlet

    atoms, _ = prepared_atoms(atoms0, 300.0, seed)
    atoms.calc = md_tools.make_calculator(md_tools.load_model(model_path), atoms,
                                          energy_unit=energy_unit)
    dyn = VelocityVerlet(atoms, 0.5 * units.fs)
    recorder = md_tools.EnergyRecorder(atoms, 0.5)
    dyn.attach(recorder, interval=1)
    dyn.run(steps)
    e = recorder.arrays()
    n = len(atoms)
    etot = (e["etot"] - e["etot"][0]) / n * 1000  # meV/atom
    slope = np.polyfit(e["time_fs"], etot, 1)[0]
    return dict(end=etot[-1], max=np.abs(etot).max(), fit=slope * e["time_fs"][-1],
                mean_T=e["temperature"].mean())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="skip script1/2 and use this model file")
    p.add_argument("--data", help="start geometries (default: the tutorial's data file)")
    p.add_argument("--energy-unit", default="eV")
    p.add_argument("--rounds", type=int, default=3, help="interleaved speed rounds")
    p.add_argument("--keep", action="store_true", help="keep the temporary copy")
    args = p.parse_args()

    import torch

    print(f"bench_schnet_minute.py on {os.cpu_count()} CPU cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), Python {sys.version.split()[0]}")
    print(machine_speed.describe())
    tmp = Path(tempfile.mkdtemp(prefix="bench_schnet_"))
    walls, force_mae, script3_rate = {}, None, None
    try:
        work = tmp / "ml_tutorial"
        ignore = shutil.ignore_patterns("models", "ase_calcs", "figures", "*.db", "*.lock",
                                        "work", "__pycache__", "*.gif", "*.png")
        shutil.copytree(TUTORIAL, work / "schnet_tutorial", ignore=ignore)
        for extra in ("common",):
            if (ROOT / extra).is_dir():
                shutil.copytree(ROOT / extra, work / extra, ignore=ignore)
        (work / "runs").mkdir()
        tut = work / "schnet_tutorial"
        script1, script2 = tut / "script1_prepare_data.py", tut / "script2_train_schnet.py"

        if args.model:
            model_path = Path(args.model).resolve()
            print("Pipeline: skipped (--model given)")
        elif script1.exists() and script2.exists():
            print("From nothing to a trajectory (fresh processes, start-up included):")
            walls["script1 (prepare data)"], _ = run_step("script1_prepare_data.py", script1, work)
            walls["script2 (train)"], out2 = run_step("script2_train_schnet.py", script2, work)
            force_mae = parse_force_mae(out2)
            model_path = newest_model(tut / "models")
        else:
            raise SystemExit("bench_schnet_minute.py: script1/script2 not found; use --model")

        data = Path(args.data).resolve() if args.data else tut / "data" / "ethanol_pbe.xyz.gz"
        s3_args = ["--model", str(model_path), "--data-file", str(data), "--energy-unit", args.energy_unit]
        if not args.model:
            s3_args = []  # the defaults, as a student runs it
        walls["script3 (1000 MD steps)"], out3 = run_step("script3_run_md.py", tut / "script3_run_md.py",
                                                          work, s3_args, allow_exit_1=True)
        m = re.search(r"([0-9]+) steps/s", out3)
        script3_rate = float(m.group(1)) if m else None
        total = sum(walls.values())
        if len(walls) == 3:
            print(f"  {'total':34s} {total:6.1f} s   (target <= {TARGET_TOTAL_S:.0f} s)")

        # ---- MD measurements in this process, on the model just trained ----
        import md_tools

        atoms0, origin = md_tools.start_geometry(None, data, model_path.parent / "split.npz", seed=42)
        print(f"\nMD on {model_path} ({len(atoms0)} atoms, start: {origin})")
        ours, base, restarts = [], [], 0
        for _ in range(args.rounds):
            rate, r1 = md_rate(model_path, "auto", atoms0, 1000, args.energy_unit)
            ours.append(rate)
            rate, r2 = md_rate(model_path, "spk", atoms0, 300, args.energy_unit)
            base.append(rate)
            restarts += r1 + r2
        calc = md_tools.make_calculator(md_tools.load_model(model_path), atoms0.copy())
        print(f"  MD speed, Langevin 300 K, best of {args.rounds} interleaved rounds:")
        print(f"    script3's calculator ({calc.backend})       {max(ours):7.0f} steps/s "
              f"(median {statistics.median(ours):.0f})")
        print(f"    SpkCalculator + ASE neighbour list  {max(base):7.0f} steps/s "
              f"(median {statistics.median(base):.0f})")
        print(f"    ratio                               {max(ours) / max(base):7.1f} x "
              f"(median ratio {statistics.median(ours) / statistics.median(base):.1f} x)")
        if restarts:
            print(f"    ({restarts} blown-up runs were restarted from the start geometry)")
        if script3_rate:
            print(f"    script3 itself (with trajectory, log, checks) {script3_rate:.0f} steps/s")

        stab = stability_runs(model_path, atoms0, args.energy_unit)
        print("  Stability, 1000 steps Langevin 300 K (bounds: bonds 0.6-1.5 x start length):")
        for seed, status, hi, lo in stab:
            print(f"    seed {seed}: {status}; bond lengths {lo:.2f}-{hi:.2f} x start")
        drift = nve_drift(model_path, atoms0, args.energy_unit)
        print("  NVE, 1000 steps of 0.5 fs from 300 K: total-energy drift "
              f"{drift['end']:+.2f} meV/atom (end - start), {drift['fit']:+.2f} (linear fit), "
              f"largest deviation {drift['max']:.2f} meV/atom, mean T {drift['mean_T']:.0f} K")

        print("\nSummary")
        rows = []
        if len(walls) == 3:
            rows.append(("from nothing to a trajectory", f"{total:.1f} s", "<= 60 s",
                         total <= TARGET_TOTAL_S))
        if force_mae is not None:
            rows.append(("test force MAE", f"{force_mae:.2f} kcal/mol/Å", "<= 1.0 kcal/mol/Å",
                         force_mae <= TARGET_FORCE_MAE))
        elif "script2 (train)" in walls:
            rows.append(("test force MAE", "not found", "<= 1.0 kcal/mol/Å", False))
        rows.append(("MD speed (script3's calculator)", f"{max(ours):.0f} steps/s", "~1000 steps/s",
                     max(ours) >= TARGET_STEPS_PER_S))
        rows.append(("  vs SpkCalculator", f"{max(ours) / max(base):.1f} x", "", None))
        n_stable = sum(s == "stable" for _, s, _, _ in stab)
        rows.append(("300 K Langevin, 1000 steps", f"{n_stable}/{len(stab)} stable", "all stable",
                     n_stable == len(stab)))
        rows.append(("NVE drift, 1000 steps", f"{abs(drift['end']):.2f} meV/atom", "< 5 meV/atom",
                     abs(drift["end"]) < TARGET_DRIFT))
        for name, value, target, ok in rows:
            status = "" if ok is None else ("met" if ok else "MISSED")
            print(f"  {name:32s} {value:>18s}   {target:18s} {status}")
    finally:
        if args.keep:
            print(f"\nKept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
