"""Slide "Getting to molecular dynamics in 1 minute", step 3: run MD with the trained SchNet model.

script2_train_schnet.py trained SchNet on ethanol energies and forces (PBE). This script turns the
model into an ASE calculator (forces = -dE/dR of the model energy) and runs molecular dynamics:
Langevin at 300 K by default, or constant energy (NVE, velocity Verlet) with --thermostat nve.

What to look for
  * The printed steps per second: a 9-atom molecule runs thousands of MD steps per second on a
    laptop CPU, millions of times faster than the PBE calculations the model learned from.
  * figures/md_energies.png: potential and total energy (eV), kinetic energy (eV), temperature (K)
    against time (fs). With --thermostat nve the total energy must stay flat: its drift (printed in
    meV/atom) measures how smooth and consistent the learned forces are. With Langevin the
    temperature fluctuates around the target.
  * The movie: ase gui schnet_tutorial/ase_calcs/simulation.traj, then Tools -> Movie -> Play.
    Watch the C-H and O-H bonds vibrate and the methyl group rotate. No display? Use --gif.
  * A bad model or a too large time step makes the run "blow up" (a bond breaks, atoms collide,
    energy is not conserved). The script stops with a one-line message and keeps what it wrote.

Usage (from any folder)
  python schnet_tutorial/script3_run_md.py                    # newest model, 1000 steps, 300 K
  python schnet_tutorial/script3_run_md.py --thermostat nve --steps 2000
  python schnet_tutorial/script3_run_md.py --model path/to/best_model --energy-unit kcal/mol
  python schnet_tutorial/script3_run_md.py --gif              # also write an animated GIF
  python schnet_tutorial/script3_run_md.py --help             # all settings
Every run writes ase_calcs/simulation.traj and simulation.log; an earlier pair is renamed with a
time stamp (simulation_20250101-120000.traj), never overwritten.
"""

# %% Settings: edit these constants (or override them on the command line, see --help)
import sys
from pathlib import Path

MODEL = None              # None: the newest model trained by script2; or a path to a model file
ENERGY_UNIT = None        # None: read from the model folder, else "eV" (the tutorial's data);
                          # use "kcal/mol" for a model trained on the original MD17 files
START = None              # None: a test-set frame of the data set; or "file.xyz" / "file.xyz@3"
THERMOSTAT = "langevin"   # "langevin" (constant temperature) or "nve" (velocity Verlet)
TEMPERATURE_K = 300.0     # initial Maxwell-Boltzmann temperature and Langevin target (K)
TIMESTEP_FS = 0.5         # MD time step (fs); ethanol's C-H vibration has a period of ~11 fs
N_STEPS = 1000            # number of MD steps (1000 x 0.5 fs = 0.5 ps)
FRICTION_PER_FS = 0.01    # Langevin friction (1/fs): larger couples harder to the heat bath
SEED = 42                 # seeds the velocities and the Langevin noise: same seed, same run
TRAJ_INTERVAL = 5         # write every 5th step to the trajectory (2.5 fs per movie frame)
LOG_INTERVAL = 10         # write every 10th step to simulation.log
CALCULATOR = "auto"       # "auto": fast NumPy SchNet (torch for other models); "spk": SchNetPack's
                          # SpkCalculator with ASE's neighbour list (slower, for comparison)
MAX_BOND_STRETCH = 1.5    # stop if a bond gets longer than 1.5 x its start length
MAX_BOND_COMPRESSION = 0.6  # ... or shorter than 0.6 x its start length
MAX_DRIFT_MEV_PER_ATOM = 50.0  # NVE only: stop if the total energy drifts more (meV/atom)
WRITE_GIF = False         # also write ase_calcs/simulation.gif (slow: ~10 s)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
MODELS_DIR = HERE / "models"
DATA_FILE = HERE / "data" / "ethanol_pbe.xyz.gz"
OUT_DIR = HERE / "ase_calcs"
FIGURES_DIR = HERE / "figures"

import argparse  # noqa: E402
import time  # noqa: E402


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + error
        raise SystemExit(f"{self.prog}: error: {message} (see --help)")


def parse_args(argv=None):
    p = _OneLineParser(prog="script3_run_md.py", description=__doc__.splitlines()[0],
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default=MODEL, help="model file or folder (default: newest trained)")
    p.add_argument("--energy-unit", default=ENERGY_UNIT, help="energy unit of the model")
    p.add_argument("--start", default=START, help="start geometry file[@index] (ASE-readable)")
    p.add_argument("--data", default=str(DATA_FILE), help="data set (start frame from its test set)")
    p.add_argument("--thermostat", default=THERMOSTAT, help="langevin or nve")
    p.add_argument("--temperature", type=float, default=TEMPERATURE_K, help="temperature (K)")
    p.add_argument("--timestep", type=float, default=TIMESTEP_FS, help="time step (fs)")
    p.add_argument("--steps", type=int, default=N_STEPS, help="number of MD steps")
    p.add_argument("--friction", type=float, default=FRICTION_PER_FS, help="Langevin friction (1/fs)")
    p.add_argument("--seed", type=int, default=SEED, help="random seed")
    p.add_argument("--traj-interval", type=int, default=TRAJ_INTERVAL, help="steps per frame")
    p.add_argument("--log-interval", type=int, default=LOG_INTERVAL, help="steps per log line")
    p.add_argument("--calculator", default=CALCULATOR, help="auto, numpy, torch or spk")
    p.add_argument("--max-stretch", type=float, default=MAX_BOND_STRETCH, help="bond bound (x start)")
    p.add_argument("--max-compress", type=float, default=MAX_BOND_COMPRESSION, help="bond bound (x start)")
    p.add_argument("--max-drift", type=float, default=MAX_DRIFT_MEV_PER_ATOM, help="NVE bound (meV/atom)")
    p.add_argument("--gif", action="store_true", default=WRITE_GIF, help="also write an animated GIF")
    p.add_argument("--out-dir", default=str(OUT_DIR), help="folder for simulation.traj/.log")
    p.add_argument("--figures-dir", default=str(FIGURES_DIR), help="folder for the figures")
    args = p.parse_args(argv)

    def bad(msg):
        p.error(msg)

    args.thermostat = args.thermostat.lower()
    if args.thermostat not in ("langevin", "nve"):
        bad(f"--thermostat must be langevin or nve, not {args.thermostat!r}")
    if not 0 < args.temperature <= 10000:
        bad(f"--temperature must be in (0, 10000] K, not {args.temperature:g}")
    if not 0 < args.timestep <= 20:
        bad(f"--timestep must be in (0, 20] fs, not {args.timestep:g} (0.5 fs is typical)")
    if args.steps < 1:
        bad(f"--steps must be a positive integer, not {args.steps}")
    if args.friction < 0:
        bad(f"--friction must be >= 0 (1/fs), not {args.friction:g}")
    if args.traj_interval < 1 or args.log_interval < 1:
        bad("--traj-interval and --log-interval must be positive integers")
    if args.calculator not in ("auto", "numpy", "torch", "spk"):
        bad(f"--calculator must be auto, numpy, torch or spk, not {args.calculator!r}")
    if not args.max_stretch > 1 or not 0 < args.max_compress < 1 or not args.max_drift > 0:
        bad("need --max-stretch > 1, 0 < --max-compress < 1 and --max-drift > 0")
    return args


def fail(message):
    """Stop with a one-line error message and a non-zero exit code."""
    raise SystemExit("script3_run_md.py: error: " + " ".join(str(message).split()))


args = parse_args(None if __name__ == "__main__" else [])

import numpy as np  # noqa: E402
import matplotlib  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from ase import units  # noqa: E402
from ase.io.trajectory import Trajectory  # noqa: E402
from ase.md import MDLogger  # noqa: E402
from ase.md.langevin import Langevin  # noqa: E402
from ase.constraints import FixCom  # noqa: E402
from ase.md.velocitydistribution import (  # noqa: E402
    Stationary, ZeroRotation, thermalize_momenta)
from ase.md.verlet import VelocityVerlet  # noqa: E402

import md_tools  # noqa: E402


def newest_model(models_dir: Path) -> Path:
    """The most recently written models/<run>/best_model."""
    candidates = sorted(models_dir.glob("*/best_model"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        fail(f"no trained model in {models_dir}: run script2_train_schnet.py first, "
             "or give --model PATH")
    return candidates[-1]


def shown_path(path: Path) -> str:
    """A path relative to the working directory when possible (for copy-paste commands)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# %% 1 Data: a start geometry the model has not seen in training
try:
    model_path = md_tools.model_file(args.model) if args.model else newest_model(MODELS_DIR)
except md_tools.MDSetupError as exc:
    fail(exc)
try:
    atoms, origin = md_tools.start_geometry(args.start, args.data, model_path.parent / "split.npz",
                                            seed=args.seed)
except md_tools.MDSetupError as exc:
    fail(exc)
atoms.calc = None
atoms.pbc = False
print(f"Start geometry: {atoms.get_chemical_formula()} ({len(atoms)} atoms) from {origin}")

# Maxwell-Boltzmann velocities at T, without overall translation and rotation. FixCom keeps the
# molecule's centre of mass in place (ASE then counts 3N - 3 degrees of freedom for T).
atoms.set_constraint(FixCom())
rng = np.random.default_rng(args.seed)
thermalize_momenta(atoms, temperature_K=args.temperature, exact_temperature=True, rng=rng)
Stationary(atoms)
ZeroRotation(atoms)

# %% 2 Model: the trained SchNet model as an ASE calculator (forces = -dE/dR)
try:
    model = md_tools.load_model(model_path)
    energy_unit = args.energy_unit or md_tools.model_energy_unit(model_path, default="eV")
    calc = md_tools.make_calculator(model, atoms, energy_unit=energy_unit, kind=args.calculator)
    atoms.calc = calc
    epot0 = atoms.get_potential_energy()
except md_tools.MDSetupError as exc:
    fail(exc)
except Exception as exc:  # e.g. a unit schnetpack does not know
    fail(f"cannot use the model {model_path} ({type(exc).__name__}: {exc})")
kind = getattr(calc, "backend", "spk")
names = {"numpy": "NumPy SchNet", "torch": "SchNetPack model, direct tensors", "spk": "SpkCalculator"}
print(f"Model: {shown_path(model_path)} (energy unit {energy_unit}; calculator: {names[kind]})")
print(f"Start: potential energy {epot0:.4f} eV, temperature {atoms.get_temperature():.1f} K")

# %% 3 Run molecular dynamics
out_dir = Path(args.out_dir)
out_dir.mkdir(parents=True, exist_ok=True)
traj_path, log_path = out_dir / "simulation.traj", out_dir / "simulation.log"
gif_path = out_dir / "simulation.gif"
try:
    moved = md_tools.archive_previous([traj_path, log_path, gif_path])
except md_tools.MDSetupError as exc:
    fail(exc)
for old, new in moved:
    print(f"Kept the previous {old.name} as {new.name}")

if args.thermostat == "langevin":
    dyn = Langevin(atoms, args.timestep * units.fs, temperature_K=args.temperature,
                   friction=args.friction / units.fs, fixcm=False, rng=rng)
    ensemble = f"Langevin {args.temperature:g} K, friction {args.friction:g}/fs"
else:
    dyn = VelocityVerlet(atoms, args.timestep * units.fs)
    ensemble = f"NVE (velocity Verlet), initial {args.temperature:g} K"

recorder = md_tools.EnergyRecorder(atoms, args.timestep)
monitor = md_tools.StabilityMonitor(
    atoms, max_stretch=args.max_stretch, max_compress=args.max_compress,
    max_drift_ev_per_atom=args.max_drift / 1000 if args.thermostat == "nve" else None,
    timestep_fs=args.timestep, dyn=dyn)
traj = Trajectory(str(traj_path), "w", atoms, properties=["energy", "forces"])
logfile = open(log_path, "w", encoding="utf-8")
logfile.write(f"# script3_run_md.py: model {model_path}, {ensemble}, time step "
              f"{args.timestep:g} fs, {args.steps} steps, seed {args.seed}, start {origin}\n")
dyn.attach(monitor, interval=1)
dyn.attach(recorder, interval=1)
dyn.attach(traj.write, interval=args.traj_interval)
dyn.attach(MDLogger(dyn, atoms, logfile, header=True), interval=args.log_interval)

print(f"Running {args.steps} steps of {args.timestep:g} fs ({ensemble}) ...")
blow_up = None
t0 = time.perf_counter()
try:
    dyn.run(args.steps)
except md_tools.MDBlowUpError as exc:
    blow_up = exc
    if dyn.nsteps % args.traj_interval:  # keep the broken frame in the movie
        traj.write()
    logfile.write(f"# STOPPED at step {exc.step}: {exc}\n")
finally:
    wall = time.perf_counter() - t0
    traj.close()
    logfile.close()
steps_done = dyn.nsteps
print(f"{steps_done} steps in {wall:.2f} s: {steps_done / max(wall, 1e-9):.0f} steps/s")

# %% 5 Look at the result
data = recorder.arrays()
n_atoms = len(atoms)
FIGURES_DIR = Path(args.figures_dir)
FIGURES_DIR.mkdir(parents=True, exist_ok=True)
nve = args.thermostat == "nve"
fig, axes = plt.subplots(4 if nve else 3, 1, figsize=(7, 9.5 if nve else 7.5), sharex=True)
t_fs = data["time_fs"]
axes[0].plot(t_fs, data["epot"], lw=0.8, label="potential energy", color="tab:blue")
axes[0].plot(t_fs, data["etot"], lw=1.2, label="total energy", color="black")
axes[0].set_ylabel("energy (eV)")
axes[0].ticklabel_format(axis="y", useOffset=False)  # absolute energies, e.g. -4209.8 eV
axes[0].legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
fig.suptitle(f"SchNet MD of {atoms.get_chemical_formula()}: {ensemble}")
axes[1].plot(t_fs, data["ekin"], lw=0.8, color="tab:red")
axes[1].set_ylabel("kinetic energy (eV)")
axes[2].plot(t_fs, data["temperature"], lw=0.8, color="tab:orange")
axes[2].axhline(args.temperature, color="gray", ls="--",
                label=f"{'initial' if nve else 'target'} {args.temperature:g} K")
axes[2].set_ylabel("temperature (K)")
axes[2].legend(loc="upper right", framealpha=0.9)
if nve:  # energy conservation, the quality check of NVE: should be a flat line near 0
    axes[3].plot(t_fs, (data["etot"] - data["etot"][0]) / n_atoms * 1000, color="black")
    axes[3].axhline(0.0, color="gray", lw=0.5)
    axes[3].set_ylabel("E_tot - E_tot(0)\n(meV/atom)")
axes[-1].set_xlabel("time (fs)")
if blow_up is not None:
    for ax in axes:
        ax.axvline(t_fs[-1], color="red", ls=":")
fig.tight_layout()
fig_path = FIGURES_DIR / "md_energies.png"
fig.savefig(fig_path, dpi=120)
if "inline" in matplotlib.get_backend():  # Spyder/Jupyter: show; elsewhere never block
    plt.show()
plt.close(fig)
print(f"Figure: {shown_path(fig_path)} (energies (eV) and temperature (K) vs time (fs))")

drift = (data["etot"][-1] - data["etot"][0]) / n_atoms * 1000
half = len(data["temperature"]) // 2
if args.thermostat == "nve":
    print(f"NVE total-energy drift over {steps_done} steps: {drift:+.2f} meV/atom "
          f"(largest deviation {monitor.max_drift_seen * 1000:.2f} meV/atom)")
print(f"Mean temperature over the second half: {data['temperature'][half:].mean():.0f} K")
with Trajectory(str(traj_path)) as written:
    n_frames = len(written)
print(f"Trajectory: {shown_path(traj_path)} ({n_frames} frames), "
      f"log: {shown_path(log_path)}")
print(f"Play the movie: ase gui {shown_path(traj_path)}   (then Tools -> Movie -> Play)")
if args.gif:
    n_gif = md_tools.write_gif(traj_path, gif_path)
    print(f"Animated GIF: {shown_path(gif_path)} ({n_gif} frames)")

if blow_up is not None:
    fail(f"the MD run blew up: {blow_up}. Try a smaller --timestep, a lower --temperature or a "
         f"better trained model; the trajectory up to that point is in {shown_path(traj_path)}")
