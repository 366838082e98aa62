"""script3_run_md.py: slide "Getting to molecular dynamics in 1 minute", step 3: run MD with ASE.

script2_train_schnet.py trained SchNet on ethanol energies and forces (PBE). This script turns the
model into an ASE calculator (forces = -dE/dR of the model energy) and runs molecular dynamics:
Langevin at 300 K by default, or constant energy (NVE, velocity Verlet) with THERMOSTAT = "nve".

What to look for
  * The printed steps per second: a 9-atom molecule runs thousands of MD steps per second on a
    laptop CPU; one PBE calculation of a training geometry takes about 5 s.
  * figures/schnet_md_energies.png: potential and total energy (eV), kinetic energy (eV) and
    temperature (K) against time (fs). With NVE the total energy must stay flat: its drift (printed
    in meV/atom, and a fourth panel) measures how consistent forces and time step are. With Langevin
    the temperature fluctuates around the target.
  * The movie: ase gui schnet_tutorial/ase_calcs/simulation.traj, then Tools -> Movie -> Play.
    Watch the C-H and O-H bonds vibrate and the methyl group rotate. No display? --write-gif true.
  * A bad model or a too large time step makes the run "blow up" (a bond breaks, atoms collide,
    energy is not conserved): the script stops with a one-line message and keeps what it wrote.

Every run writes ase_calcs/simulation.traj and simulation.log; an earlier pair is renamed with a
time stamp (simulation_20250101-120000.traj), never overwritten.
"""

# %% Settings (edit, or override on the command line: --thermostat nve --steps 2000)
MODEL = ""                # "" = the newest model trained by script2; or a model file / its folder
ENERGY_UNIT = ""          # "" = from the model folder, else eV (the tutorial's data); "kcal/mol"
                          # for a model trained on the original MD17 files
START = ""                # "" = a test-set frame of DATA_FILE; or "file.xyz" / "file.xyz@3"
DATA_FILE = ""            # "" = data/ethanol_pbe.xyz.gz (the data set script2 trained on)
THERMOSTAT = "langevin"   # "langevin" (constant temperature) or "nve" (velocity Verlet)
TEMPERATURE_K = 300.0     # initial Maxwell-Boltzmann temperature and Langevin target (K)
TIMESTEP_FS = 0.5         # MD time step (fs); ethanol's C-H vibration has a period of ~11 fs
STEPS = 1000              # number of MD steps (1000 x 0.5 fs = 0.5 ps)
FRICTION_PER_FS = 0.01    # Langevin friction (1/fs): larger couples harder to the heat bath
SEED = 42                 # seeds the start frame, the velocities and the Langevin noise
TRAJ_INTERVAL = 5         # write every 5th step to the trajectory (2.5 fs per movie frame)
LOG_INTERVAL = 10         # write every 10th step to simulation.log
CALCULATOR = "auto"       # "auto": fast NumPy SchNet (the model itself for e.g. PaiNN);
                          # "spk": SchNetPack's SpkCalculator with ASE's neighbour list (slower)
MAX_BOND_STRETCH = 1.5    # stop if a bond gets longer than 1.5 x its start length ...
MAX_BOND_COMPRESSION = 0.6  # ... or shorter than 0.6 x its start length
MAX_DRIFT_MEV_PER_ATOM = 50.0  # NVE only: stop if the total energy moves more (meV/atom)
WRITE_GIF = False         # also write ase_calcs/simulation.gif (for machines without a display)
OUT_DIR = ""              # "" = schnet_tutorial/ase_calcs
FIGURES_DIR = ""          # "" = figures/
QUICK = {"STEPS": 100}    # --quick: settings for tests

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import schnet_common as sc  # noqa: E402  (also makes common/ importable)
from common import cli  # noqa: E402

cli.apply_overrides(globals(), quick=QUICK)
cli.check_choice("THERMOSTAT", THERMOSTAT, ["langevin", "nve"])
cli.check_choice("CALCULATOR", CALCULATOR, ["auto", "numpy", "torch", "spk"])
cli.check(0 < TEMPERATURE_K <= 10000, f"TEMPERATURE_K must be in (0, 10000] K, got {TEMPERATURE_K}")
cli.check(0 < TIMESTEP_FS <= 20, f"TIMESTEP_FS must be in (0, 20] fs (0.5 is typical), got {TIMESTEP_FS}")
cli.check(STEPS >= 1, f"STEPS must be a positive integer, got {STEPS}")
cli.check(FRICTION_PER_FS >= 0, f"FRICTION_PER_FS must be >= 0 (1/fs), got {FRICTION_PER_FS}")
cli.check(TRAJ_INTERVAL >= 1 and LOG_INTERVAL >= 1, "TRAJ_INTERVAL and LOG_INTERVAL must be >= 1")
cli.check(MAX_BOND_STRETCH > 1 and 0 < MAX_BOND_COMPRESSION < 1 and MAX_DRIFT_MEV_PER_ATOM > 0,
          "need MAX_BOND_STRETCH > 1, 0 < MAX_BOND_COMPRESSION < 1 and MAX_DRIFT_MEV_PER_ATOM > 0")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from ase import units  # noqa: E402
from ase.constraints import FixCom  # noqa: E402
from ase.io.trajectory import Trajectory  # noqa: E402
from ase.md import MDLogger  # noqa: E402
from ase.md.langevin import Langevin  # noqa: E402
from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta  # noqa: E402
from ase.md.verlet import VelocityVerlet  # noqa: E402

import md_tools  # noqa: E402
from common.plotting import save_figure, show  # noqa: E402


def fail(message, code=2):
    """One-line error (never a traceback) and a non-zero exit code."""
    cli.fail(" ".join(str(message).split()), code=code)


def newest_model(models_dir: Path) -> Path:
    """The most recently written models/<run>/best_model (script2 never overwrites a run)."""
    found = sorted(Path(models_dir).glob("*/best_model"), key=lambda p: p.stat().st_mtime)
    if not found:
        fail(f"no trained model in {models_dir}: run script2_train_schnet.py first, or set MODEL "
             "(--model PATH) to a SchNetPack model file")
    return found[-1]


def shown_path(path: Path) -> str:
    """A path relative to the working directory when possible (for copy-paste commands)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# %% 1 Data: a start geometry the model has not seen in training
try:
    model_path = md_tools.model_file(MODEL) if MODEL else newest_model(sc.MODELS_DIR)
except md_tools.MDSetupError as exc:
    fail(exc)
try:
    atoms, origin = md_tools.start_geometry(START, DATA_FILE or sc.DATA_FILE,
                                            model_path.parent / "split.npz", seed=SEED)
except md_tools.MDSetupError as exc:
    fail(exc)
atoms.calc = None
atoms.pbc = False
print(f"Start geometry: {atoms.get_chemical_formula()} ({len(atoms)} atoms) from {origin}")

# Maxwell-Boltzmann velocities at T, without overall translation and rotation. FixCom keeps the
# molecule's centre of mass in place (ASE then counts 3N - 3 degrees of freedom for T).
atoms.set_constraint(FixCom())
rng = np.random.default_rng(SEED)
thermalize_momenta(atoms, temperature_K=TEMPERATURE_K, exact_temperature=True, rng=rng)
Stationary(atoms)
ZeroRotation(atoms)

# %% 2 Model: the trained SchNet model as an ASE calculator (forces = -dE/dR)
try:
    model = md_tools.load_model(model_path)
    energy_unit = ENERGY_UNIT or md_tools.model_energy_unit(model_path, default="eV")
    calc = md_tools.make_calculator(model, atoms, energy_unit=energy_unit, kind=CALCULATOR)
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
out_dir = Path(OUT_DIR) if OUT_DIR else sc.HERE / "ase_calcs"
out_dir.mkdir(parents=True, exist_ok=True)
traj_path, log_path = out_dir / "simulation.traj", out_dir / "simulation.log"
gif_path = out_dir / "simulation.gif"
try:
    moved = md_tools.archive_previous([traj_path, log_path, gif_path])
except md_tools.MDSetupError as exc:
    fail(exc)
for old, new in moved:
    print(f"Kept the previous {old.name} as {new.name}")

if THERMOSTAT == "langevin":
    dyn = Langevin(atoms, TIMESTEP_FS * units.fs, temperature_K=TEMPERATURE_K,
                   friction=FRICTION_PER_FS / units.fs, fixcm=False, rng=rng)
    ensemble = f"Langevin {TEMPERATURE_K:g} K, friction {FRICTION_PER_FS:g}/fs"
else:
    dyn = VelocityVerlet(atoms, TIMESTEP_FS * units.fs)
    ensemble = f"NVE (velocity Verlet), initial {TEMPERATURE_K:g} K"

recorder = md_tools.EnergyRecorder(atoms, TIMESTEP_FS)
monitor = md_tools.StabilityMonitor(
    atoms, max_stretch=MAX_BOND_STRETCH, max_compress=MAX_BOND_COMPRESSION,
    max_drift_ev_per_atom=MAX_DRIFT_MEV_PER_ATOM / 1000 if THERMOSTAT == "nve" else None,
    timestep_fs=TIMESTEP_FS, dyn=dyn)
traj = Trajectory(str(traj_path), "w", atoms, properties=["energy", "forces"])
logfile = open(log_path, "w", encoding="utf-8")
logfile.write(f"# script3_run_md.py: model {model_path}, {ensemble}, time step "
              f"{TIMESTEP_FS:g} fs, {STEPS} steps, seed {SEED}, start {origin}\n")
dyn.attach(monitor, interval=1)
dyn.attach(recorder, interval=1)
dyn.attach(traj.write, interval=TRAJ_INTERVAL)
dyn.attach(MDLogger(dyn, atoms, logfile, header=True), interval=LOG_INTERVAL)

print(f"Running {STEPS} steps of {TIMESTEP_FS:g} fs ({ensemble}) ...")
blow_up = None
t0 = time.perf_counter()
try:
    dyn.run(STEPS)
except md_tools.MDBlowUpError as exc:
    blow_up = exc
    if dyn.nsteps % TRAJ_INTERVAL:  # keep the broken frame in the movie
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
nve = THERMOSTAT == "nve"
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
axes[2].axhline(TEMPERATURE_K, color="gray", ls="--",
                label=f"{'initial' if nve else 'target'} {TEMPERATURE_K:g} K")
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
save_figure(fig, "schnet_md_energies", Path(FIGURES_DIR) if FIGURES_DIR else sc.FIGURES_DIR)
show()

drift = (data["etot"][-1] - data["etot"][0]) / n_atoms * 1000
half = len(data["temperature"]) // 2
if THERMOSTAT == "nve":
    print(f"NVE total-energy drift over {steps_done} steps: {drift:+.2f} meV/atom "
          f"(largest deviation {monitor.max_drift_seen * 1000:.2f} meV/atom)")
print(f"Mean temperature over the second half: {data['temperature'][half:].mean():.0f} K")
with Trajectory(str(traj_path)) as written:
    n_frames = len(written)
print(f"Trajectory: {shown_path(traj_path)} ({n_frames} frames), "
      f"log: {shown_path(log_path)}")
print(f"Play the movie: ase gui {shown_path(traj_path)}   (then Tools -> Movie -> Play)")
if WRITE_GIF:
    n_gif = md_tools.write_gif(traj_path, gif_path)
    print(f"Animated GIF: {shown_path(gif_path)} ({n_gif} frames)")

if blow_up is not None:
    fail(f"the MD run blew up: {blow_up}. Try a smaller TIMESTEP_FS, a lower TEMPERATURE_K or a "
         f"better trained model; the trajectory up to that point is in {shown_path(traj_path)}",
         code=1)
