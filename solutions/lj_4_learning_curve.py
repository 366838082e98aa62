"""Worked solutions to lj_4_learning_curve.py's exercises (slide 10: learning curve, variance).

Run all: ``python solutions/lj_4_learning_curve.py``; one: ``python solutions/lj_4_learning_curve.py 3``.
"""

import functools
import re

import numpy as np

from solutions import main, run_lesson

LESSON = "lj_4_learning_curve.py"
run = functools.cache(run_lesson)  # a run that several exercises need is done once
REDUCED = ("--train-sizes", "10,80,320", "--n-seeds", 2)  # quick: three sizes, two repeats


def curves(stdout):
    """{N: {"small": (train, validation, sd), "large": (...)}} from the printed table (epsilon^2)."""
    table = {}
    for line in stdout.splitlines():
        m = re.match(r"^\s*(\d+) \|(.*)\|(.*)$", line)
        if m:
            small, large = ([float(x) for x in part.replace("+-", " ").split()] for part in m.groups()[1:])
            table[int(m.group(1))] = {"small": tuple(small), "large": tuple(large)}
    return table


# %% Exercise 1
# Kind: read the figure
# Time: 5 min
# Practises: reading a learning curve: when does the larger model pay off?
# Checked by: tests/test_solutions_lj.py (on sizes 10, 80, 320 and two repeats)
# Change: none: read the left panel of lj_4_learning_curve.png, or the printed table.
# Answer (measured 2026-12-06 on the 2-core VM): the large model's mean validation MSE is higher than
#    the small model's at N = 10 (0.77 vs 0.50 :math:`\varepsilon^2`), about equal at N = 40 (0.048 vs 0.040),
#    lower from N = 80 on (5.2e-3 vs 9.4e-3), and 90 times lower at N = 320 (7.1e-5 vs 6.6e-3), where
#    the small model has stopped improving (bias). That the small model wins at 10 points and the
#    large one at 320 holds on any machine.
# Why: the small model (97 parameters) cannot represent the curve well, but has little to overfit;
#    the large one can represent it, once there are enough points to pin it down.


def exercise_1(out=None, quick=False):
    table = curves(run(LESSON, *(REDUCED if quick else ()), out=out)["stdout"])
    first, last = min(table), max(table)
    crossing = next((n for n in sorted(table) if table[n]["large"][1] < table[n]["small"][1]), None)
    return {
        "small_val_first_eps2": table[first]["small"][1],
        "large_val_first_eps2": table[first]["large"][1],
        "small_val_last_eps2": table[last]["small"][1],
        "large_val_last_eps2": table[last]["large"][1],
        "large_wins_from_n": crossing,
    }


# %% Exercise 2
# Kind: predict, then run
# Time: 15 min
# Practises: noise in the training data sets a floor under the learning curve
# Checked by: tests/test_solutions_lj.py (on sizes 10, 80, 320 and two repeats)
# Change: ``python lj_4_learning_curve.py --noise 0.05`` (noise on the training energies only; the
#    validation energies stay exact)
# Answer (measured 2026-12-06 on the 2-core VM): at N = 320 the large model's training MSE levels off at
#    2.2e-3 :math:`\varepsilon^2`, just under the noise's variance :math:`0.05^2 = 2.5 \cdot 10^{-3}`; its
#    validation MSE (exact energies) rises 3.7 times, from 7.1e-5 to 2.7e-4, and now lies below its training
#    MSE. The small model hardly changes (6.6e-3 both times). Which way each moves holds on any machine.
# Why: a model that does not overfit cannot fit the noise, so its training MSE settles near the
#    noise's variance; the noise also pulls the fit a little off the true curve. The small model's
#    error is bias (it cannot follow the curve), far larger than the noise.


def exercise_2(out=None, quick=False):
    base = curves(run(LESSON, *(REDUCED if quick else ()), out=out)["stdout"])
    # quick: the noisy run needs only the largest size (its 320 points and seeds are the same)
    noisy_sizes = ("--train-sizes", 320, "--n-seeds", 2) if quick else ()
    noisy = curves(run(LESSON, "--noise", 0.05, *noisy_sizes, out=out)["stdout"])
    last = max(base)
    return {
        "large_val_last_exact_eps2": base[last]["large"][1],
        "large_val_last_noisy_eps2": noisy[last]["large"][1],
        "large_train_last_noisy_eps2": noisy[last]["large"][0],
        "small_val_last_exact_eps2": base[last]["small"][1],
        "small_val_last_noisy_eps2": noisy[last]["small"][1],
    }


# %% Exercise 3
# Kind: write code
# Time: 20 min
# Practises: a learning curve as a power law, :math:`\mathrm{MSE} \propto N^{-\alpha}`, on a log-log plot
# Checked by: tests/test_solutions_lj.py (on sizes 10, 80, 320 and two repeats)
# Change: the function ``power_law`` below: a straight line through log(validation MSE) against
#    log(N) (np.polyfit), for each model, over the second half of the sizes (N >= 80 at the defaults).
# Answer (measured 2026-12-06 on the 2-core VM): over N = 80, 160, 320 the large model's validation MSE falls
#    as :math:`N^{-3.1}`, the small model's as :math:`N^{-0.26}`, almost flat. A large exponent for the large
#    model and a small one for the small model hold on any machine; the values shift with the seeds.
# Why: the small model has reached its bias floor: more data cannot make it more flexible. The
#    large model is still limited by data (variance), which falls fast as the gaps between points
#    close. Learning curves of real force fields are quoted the same way (script4).


def power_law(sizes, mse):
    """alpha of mse ~ sizes^-alpha: minus the slope of a straight line in log-log."""
    slope, _ = np.polyfit(np.log(sizes), np.log(mse), 1)
    return -slope


def exercise_3(out=None, quick=False):
    table = curves(run(LESSON, *(REDUCED if quick else ()), out=out)["stdout"])
    sizes = sorted(table)[len(table) // 2 :]  # the second half: the data-rich end
    return {
        "sizes": sizes,
        **{f"alpha_{m}": power_law(sizes, [table[n][m][1] for n in sizes]) for m in ("small", "large")},
    }


if __name__ == "__main__":
    main(globals())
