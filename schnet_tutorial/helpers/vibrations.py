"""Vibrations of a molecule (script7): the Hessian by finite differences, normal modes, and the
vibrational spectrum of an MD run from its velocities."""

import numpy as np
from ase import units
from ase.vibrations import VibrationsData


def hessian(atoms, calc, step):
    """The Hessian (eV/Å^2) by central finite differences of the forces of ``calc``: column j is
    -(F(x + h e_j) - F(x - h e_j)) / 2h (2 x 3N force calls), symmetrised."""
    x0, n = atoms.positions.copy(), 3 * len(atoms)
    atoms = atoms.copy()
    result = np.zeros((n, n))
    for j in range(n):
        forces = []
        for sign in (1, -1):
            atoms.positions = x0
            atoms.positions[j // 3, j % 3] += sign * step
            forces.append(calc.get_forces(atoms).ravel())
        result[:, j] = -(forces[0] - forces[1]) / (2 * step)
    return 0.5 * (result + result.T)


def normal_modes(atoms, hessian):
    """Frequencies (cm^-1, ascending; an imaginary one as a negative number) and mass-weighted,
    normalised mode vectors (3N-6, 3N) of a Hessian (eV/Å^2), the 6 lowest |frequencies| dropped."""
    vib = VibrationsData.from_2d(atoms, hessian)
    freqs = vib.get_frequencies()  # ASE: complex, imaginary part for negative curvature
    freqs = np.where(np.abs(freqs.imag) > 0, -np.abs(freqs.imag), freqs.real)
    _, modes = vib.get_energies_and_modes(all_atoms=True)  # Cartesian displacements (N, 3)
    keep = np.sort(np.argsort(np.abs(freqs))[6:])
    vectors = (modes[keep] * np.sqrt(atoms.get_masses())[None, :, None]).reshape(len(keep), -1)
    order = np.argsort(freqs[keep])
    return freqs[keep][order], (vectors / np.linalg.norm(vectors, axis=1, keepdims=True))[order]


def power_spectrum(velocities, masses, timestep_fs, max_lag_fs):
    """Wavenumbers (cm^-1) and the power spectrum of the mass-weighted velocity autocorrelation
    C(t) = < sum_i m_i v_i(0) . v_i(t) > (averaged over time origins), Hann-windowed up to max_lag_fs."""
    w = (velocities * np.sqrt(masses)[None, :, None]).reshape(len(velocities), -1)
    n = len(w)
    spectrum = np.abs(np.fft.rfft(w, n=2 * n, axis=0)) ** 2  # Wiener-Khinchin: C(t) by FFT
    acf = np.fft.irfft(spectrum, axis=0)[:n].sum(axis=1) / np.arange(n, 0, -1)
    lags = min(n - 1, int(round(max_lag_fs / timestep_fs)))
    acf = acf[:lags] * np.hanning(2 * lags)[lags:]
    n_fft = 16 * lags
    power = np.fft.rfft(np.concatenate([acf, np.zeros(n_fft - 2 * lags + 1), acf[:0:-1]])).real
    wavenumbers = np.fft.rfftfreq(n_fft, d=timestep_fs * 1e-15) / (units._c * 100)
    return wavenumbers, power / power[wavenumbers > 100].max()
