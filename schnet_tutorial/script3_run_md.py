"""script3_run_md.py: slide "Getting to molecular dynamics in 1 minute", step 3: MD with ASE.

The model script2 trained becomes an ASE calculator (energy from the model, forces :math:`F = -dE/dR` by
automatic differentiation) and drives molecular dynamics of ethanol: Langevin at 300 K by default,
or constant energy (NVE). Watch the movie with ``ase gui`` (the script prints the command).
"""

from schnet_tutorial.helpers import md, model_files  # isort: skip (first: it quiets SchNetPack's import)
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from ase import units
from ase.constraints import FixCom
from ase.io.trajectory import Trajectory
from ase.md import MDLogger
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta
from ase.md.verlet import VelocityVerlet

from common.plotting import save_figure, show
from common.runs import ASE_CALCS_DIR
from common.settings import check_writable, fail, setup
from schnet_tutorial.helpers.model_files import shown

# %% Settings: edit these, or override them on the command line (--thermostat nve --md-steps 2000)
MODEL_FILE = ""  # "" = the newest model script2 trained; or a SchNetPack model file (or its folder)
ENERGY_UNIT = ""  # "" = the model folder's (script2: eV; spktrain: config.yaml), else eV; e.g. "kcal/mol"
START = ""  # "" = a test frame of the model's data (not trained on); "file.xyz", "file.xyz@3" (@-1: last)
THERMOSTAT = "langevin"  # "langevin" (constant temperature) or "nve" (constant energy, velocity Verlet)
TEMPERATURE_K = 300.0  # initial Maxwell-Boltzmann temperature and Langevin target (K)
TIMESTEP_FS = 0.5  # MD time step (fs); ethanol's C-H vibration has a period of ~11 fs
MD_STEPS = 1000  # MD steps (1000 x 0.5 fs = 0.5 ps)
FRICTION_PER_FS = 0.01  # Langevin friction (1/fs): larger couples harder to the heat bath
SEED = 42  # the start frame, the velocities and the Langevin noise
TRAJ_INTERVAL = 5  # write every 5th step to the trajectory (2.5 fs per movie frame)
LOG_INTERVAL = 10  # write every 10th step to the log
CALCULATOR = "fast"  # "fast": the model, inputs built once; "spk": SchNetPack's SpkCalculator (slower)
MAX_BOND_STRETCH = 1.5  # stop if a bond gets longer than 1.5 x its start length ...
MAX_BOND_COMPRESSION = 0.6  # ... or shorter than 0.6 x its start length
MAX_DRIFT_MEV_PER_ATOM = 50.0  # NVE only: stop if the total energy moves more (meV/atom)
WRITE_GIF = False  # also write an animated GIF (for machines without a display)
setup(globals(), "script3_run_md")  # command-line overrides and checks

# %% 1 Data
# The start: a geometry the model never saw in training (a test frame of its database), with
# random Maxwell-Boltzmann velocities at TEMPERATURE_K and no overall translation or rotation.
# FixCom keeps the centre of mass in place (ASE then counts :math:`3N - 3` degrees of freedom).
check_writable(ASE_CALCS_DIR)  # before the work: a read-only folder or a full disk
model_path = Path(MODEL_FILE) if MODEL_FILE else model_files.newest_model()
atoms, origin = md.start_geometry(START, model_path, SEED)
atoms.calc, atoms.pbc = None, False
atoms.set_constraint(FixCom())
rng = np.random.default_rng(SEED)
thermalize_momenta(atoms, temperature_K=TEMPERATURE_K, exact_temperature=True, rng=rng)
Stationary(atoms)
ZeroRotation(atoms)
print(f"start geometry: {atoms.get_chemical_formula()} ({len(atoms)} atoms) from {origin}")

# %% 2 Model
# The trained model as an ASE calculator: its energy and its autograd forces :math:`F = -dE/dR`. The
# "fast" calculator builds the model's inputs once (every atom pair of the molecule is a
# neighbour) and only updates the positions at each step; SchNetPack's SpkCalculator ("spk")
# rebuilds them with ASE's neighbour list every step. Both give the same numbers (a test checks).
# check_model stops here if the model never saw an element of the molecule, or if its forces on the
# start frame differ from the data's by a unit conversion (a model trained in kcal/mol run as eV).
model = model_files.load_model(model_path)
model_name = type(model.representation).__name__  # SchNet or PaiNN
energy_unit = ENERGY_UNIT or model_files.model_energy_unit(model_path)
atoms.calc = md.make_calculator(model, atoms, energy_unit, CALCULATOR)
model_files.check_model(model_path, model, atoms, energy_unit)
print(f"model: {model_name}, {shown(model_path)} (energies in {energy_unit}; calculator {CALCULATOR})")
epot0, t0_k = atoms.get_potential_energy(), atoms.get_temperature()
print(f"start: potential energy {epot0:.4f} eV, temperature {t0_k:.1f} K")

# %% 3-4 Run molecular dynamics
# Newton's equations, step by step (velocity Verlet), with a Langevin thermostat (friction and
# random kicks that hold the temperature) unless THERMOSTAT = "nve". Every step is checked: a
# broken or squeezed bond or a drifting energy stops the run with a one-line message. Each run
# writes its own trajectory and log (simulation_<date-time>.traj/.log), never an earlier run's.
# (The lecture's steps 3-4, cost function and fit, were script2's: here the model is used.)
dt = TIMESTEP_FS * units.fs
if THERMOSTAT == "langevin":
    friction = FRICTION_PER_FS / units.fs  # (FixCom above holds the centre of mass, so fixcm=False)
    dyn = Langevin(atoms, dt, temperature_K=TEMPERATURE_K, friction=friction, fixcm=False, rng=rng)
    ensemble = f"Langevin {TEMPERATURE_K:g} K, friction {FRICTION_PER_FS:g}/fs"
else:
    dyn = VelocityVerlet(atoms, dt)
    ensemble = f"NVE (velocity Verlet), initial {TEMPERATURE_K:g} K"
max_drift = MAX_DRIFT_MEV_PER_ATOM / 1000 if THERMOSTAT == "nve" else None  # eV/atom
monitor = md.StabilityMonitor(atoms, dyn, MAX_BOND_STRETCH, MAX_BOND_COMPRESSION, max_drift)
traj_path, log_path = md.new_md_files(ASE_CALCS_DIR)
traj = Trajectory(str(traj_path), "w", atoms, properties=["energy", "forces"])
log = open(log_path, "w", encoding="utf-8")
log.write(
    f"# script3_run_md.py: {model_name} model {model_path}, {ensemble}, time step {TIMESTEP_FS:g} fs, "
    f"{MD_STEPS} steps, seed {SEED}, start {origin}\n"
)
record = []  # time (fs), potential and kinetic energy (eV), temperature (K) at every step


def record_energies():
    energies = atoms.get_potential_energy(), atoms.get_kinetic_energy()
    record.append((dyn.get_time() / units.fs, *energies, atoms.get_temperature()))


dyn.attach(record_energies, interval=1)
dyn.attach(monitor, interval=1)
dyn.attach(traj.write, interval=TRAJ_INTERVAL)
dyn.attach(MDLogger(dyn, atoms, log, header=True), interval=LOG_INTERVAL)

print(f"running {MD_STEPS} steps of {TIMESTEP_FS:g} fs ({ensemble}) ...")
blow_up, t0 = None, time.perf_counter()
try:
    dyn.run(MD_STEPS)
except md.MDBlowUpError as exc:
    blow_up = exc
    traj.write()  # keep the broken geometry in the movie
    log.write(f"# STOPPED: {exc}\n")
finally:
    wall = time.perf_counter() - t0
    traj.close()
    log.close()
print(f"{dyn.nsteps} steps in {wall:.2f} s: {dyn.nsteps / wall:.0f} steps/s")

# %% 5 Look at the result
# The figure: potential and total energy, kinetic energy and temperature against time. The
# potential and kinetic energy swap back and forth at the frequency of the bond vibrations. The start
# (a frame of the data's 500 K MD) is not at the minimum: its extra potential energy first heats the
# molecule, and Langevin's thermostat takes a few 1 / FRICTION_PER_FS (100 fs here) to pull the
# temperature back; then it fluctuates around its target (strongly: 9 atoms are few). A shorter run
# ends before that: the script then says so. With NVE a fourth panel shows the total energy: it must
# stay flat. Then play the movie in ase gui.
t_fs, epot, ekin, temperature = np.array(record).T
etot = epot + ekin
nve = THERMOSTAT == "nve"
fig, axes = plt.subplots(4 if nve else 3, 1, figsize=(7, 9.5 if nve else 7.5), sharex=True)
axes[0].plot(t_fs, epot, lw=0.8, label="potential energy", color="tab:blue")
axes[0].plot(t_fs, etot, lw=1.2, label="total energy", color="black")
axes[0].set_ylabel("energy (eV)")
axes[0].ticklabel_format(axis="y", useOffset=False)  # absolute energies, e.g. -4209.8 eV
axes[0].legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
axes[1].plot(t_fs, ekin, lw=0.8, color="tab:red")
axes[1].set_ylabel("kinetic energy (eV)")
axes[2].plot(t_fs, temperature, lw=0.8, color="tab:orange")
label = f"{'initial' if nve else 'target'} {TEMPERATURE_K:g} K"
axes[2].axhline(TEMPERATURE_K, color="gray", ls="--", label=label)
axes[2].set_ylabel("temperature (K)")
axes[2].legend(loc="upper right", framealpha=0.9)
if nve:  # energy conservation, the quality check of NVE: a flat line near 0
    axes[3].plot(t_fs, (etot - etot[0]) / len(atoms) * 1000, color="black")
    axes[3].set_ylabel("E_tot - E_tot(0)\n(meV/atom)")
axes[-1].set_xlabel("time (fs)")
for ax in axes if blow_up else []:
    ax.axvline(t_fs[-1], color="red", ls=":")
fig.suptitle(f"{model_name} MD of {atoms.get_chemical_formula()}: {ensemble}")
fig.tight_layout()
save_figure(fig, "schnet_md_energies")
show()

drift = (etot[-1] - etot[0]) / len(atoms) * 1000
if nve:
    print(
        f"NVE total-energy drift over {dyn.nsteps} steps: {drift:+.2f} meV/atom "
        f"(largest deviation {monitor.max_drift_seen * 1000:.2f} meV/atom)"
    )
settled = temperature[len(temperature) // 2 :].mean()  # K: the first half is the thermostat's warm-up
print(f"mean temperature over the second half: {settled:.0f} K")
half_fs = dyn.nsteps * TIMESTEP_FS / 2
if THERMOSTAT == "langevin" and half_fs < 2 / FRICTION_PER_FS:  # too short a run for the thermostat
    print(
        f"note: the second half of this run starts at {half_fs:g} fs, before the thermostat has had "
        f"2 / FRICTION_PER_FS = {2 / FRICTION_PER_FS:g} fs to bring the temperature to its target: "
        f"{settled:.0f} K is not yet the {TEMPERATURE_K:g} K it holds; with more MD_STEPS it settles and "
        "fluctuates around the target"
    )
with Trajectory(str(traj_path)) as written:
    print(f"trajectory: {shown(traj_path)} ({len(written)} frames), log: {shown(log_path)}")
if md.copy_as(traj_path, ASE_CALCS_DIR / "simulation.traj"):  # the slide's file: the newest run
    md.copy_as(log_path, ASE_CALCS_DIR / "simulation.log")
print(f"play the movie: ase gui {shown(traj_path)}   (then Tools -> Movie -> Play)")
if WRITE_GIF:
    gif_path = traj_path.with_suffix(".gif")
    print(f"animated GIF: {shown(gif_path)} ({md.write_gif(traj_path, gif_path)} frames)")
if blow_up:
    advice = "Try a smaller TIMESTEP_FS, a lower TEMPERATURE_K, a better trained model or, if the model's "
    advice += f"energies are not in {energy_unit}, the right ENERGY_UNIT"
    fail(
        f"the MD run blew up: {blow_up}. {advice}; the trajectory up to there is in {shown(traj_path)}",
        1,
    )
result = f"steps_per_s={dyn.nsteps / wall:.0f} mean_temperature_K={settled:.0f}"
print(f"result: {result}" + (f" drift_meV_per_atom={drift:+.2f}" if nve else ""))  # drift: NVE only

# %% Exercises
# Worked answers: solutions/script3_run_md.py (run it, or read it on the lesson's page).
#
# 1. (read the figure) The temperature swings far around its 300 K target. Canonical statistics predict a
#    standard deviation of :math:`T \sqrt{2 / N_\mathrm{dof}}`, :math:`N_\mathrm{dof} = 3N - 3 = 24` for 9
#    atoms: how many K is that? What does the run show (read the figure, or compute it from
#    ase_calcs/simulation.traj)?
# 2. (predict, then run) Constant energy: ``--thermostat nve``, then ``--thermostat nve --timestep-fs 1``.
#    Before you run: how much larger will the largest deviation of the total energy be with the twice
#    as long step (velocity Verlet's error grows as the step squared)? Then run and compare.
# 3. (predict, then run) ``--timestep-fs 5``: ethanol's O-H bond vibrates with a period of 9 fs. Will the
#    molecule survive the 1000 steps? Then run, and watch the end of the movie.
# 4. (write code) Bond lengths along the MD: read ase_calcs/simulation.traj and draw a histogram of the
#    C-H, O-H, C-C and C-O distances. Which bond is shortest, which longest, which fluctuates most?
