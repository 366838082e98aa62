"""Worked solutions to lj_5_bias_variance.py's exercises (slide 11: bias-variance tradeoff, L2).

Run all: ``python solutions/lj_5_bias_variance.py``; one: ``python solutions/lj_5_bias_variance.py 3``.
"""

import functools
import re

import torch

from common.descriptors import GaussianBasis
from common.lj import LJDataset
from common.mlp import LJModel
from solutions import main, run_lesson

LESSON = "lj_5_bias_variance.py"
run = functools.cache(run_lesson)  # a run that several exercises need is done once
# quick: two widths, two L2 strengths, four seeds (tests/test_lj_4_to_7.py shows the claims survive)
REDUCED = ("--widths", "4,64", "--l2-strengths", "0,0.001", "--n-seeds", 4)


def table(stdout):
    """{(width, L2): (mean, std)} of the printed validation MSE table (epsilon^2)."""
    header = next(line for line in stdout.splitlines() if line.startswith(" width"))
    strengths = [float(s) for s in re.findall(r"L2 (\S+)", header)]
    cells = {}
    for line in stdout.splitlines():
        m = re.match(r"^\s*(\d+)\s+[\d,]+ \|(.*)$", line)
        if m:
            pairs = re.findall(r"(\S+) \+- (\S+)", m.group(2))
            for s, (mean, std) in zip(strengths, pairs):
                cells[int(m.group(1)), s] = (float(mean), float(std))
    return cells


# %% Exercise 1
# Kind: read the figure
# Time: 10 min
# Practises: reading a bias-variance plot: the best model size, with and without L2
# Checked by: tests/test_solutions_lj.py (on two widths, two strengths, four seeds)
# Change: none: read lj_5_bias_variance.png (left) and the printed table.
# Answer (measured 2026-12-06 on the 2-core VM): without L2 the best width is 4 (189 parameters, validation
#    MSE 0.057 +- 0.037 :math:`\varepsilon^2`); width 128 is 2.5 times worse (0.141 +- 0.182). With L2 = 1e-3
#    the best width is 128 (0.042 +- 0.017): L2 cuts width 128's spread over the seeds from 0.18 to 0.017
#    :math:`\varepsilon^2`, and the largest model wins. Which size wins with and without L2, and that L2
#    shrinks the large model's spread, holds on any machine.
# Why: without L2 a large network fits the noise of its 20 points (variance); L2 pulls every weight
#    that the data do not need towards zero, so the large model behaves like a smooth one.


def exercise_1(out=None, quick=False):
    res = run(LESSON, *(REDUCED if quick else ()), out=out)
    cells = table(res["stdout"])
    small, large = min(w for w, _ in cells), max(w for w, _ in cells)
    return {
        "no_l2_best_width": min((w for w, s in cells if s == 0), key=lambda w: cells[w, 0.0][0]),
        "l2_1e-3_best_width": min((w for w, s in cells if s == 1e-3), key=lambda w: cells[w, 1e-3][0]),
        "no_l2_small": cells[small, 0.0],
        "no_l2_large": cells[large, 0.0],
        "l2_1e-3_large": cells[large, 1e-3],
    }


# %% Exercise 2
# Kind: predict, then run
# Time: 15 min
# Practises: the optimum model size depends on the amount of data
# Checked by: tests/test_solutions_lj.py (on two widths and four seeds)
# Change: ``python lj_5_bias_variance.py --n-train 80`` (four times the data)
# Answer (measured 2026-12-06 on the 2-core VM): without L2 the best width moves up from 4 to 32 (2,401
#    parameters), and the widest model gets 34 times better (0.141 +- 0.182 -> 0.0042 +- 0.0081
#    :math:`\varepsilon^2`). L2 no longer helps: the best result is without it (width 32, 0.0028
#    :math:`\varepsilon^2`). Larger optimum, large models much better: this holds on any machine.
# Why: more data pin a flexible model down (less variance), so a larger model can be afforded; the
#    regularization that 20 points needed now only adds bias.


def exercise_2(out=None, quick=False):
    base = table(run(LESSON, *(REDUCED if quick else ()), out=out)["stdout"])  # as in exercise 1
    no_l2 = ("--widths", "4,64", "--l2-strengths", 0, "--n-seeds", 4)  # quick: only what the answer needs
    more = table(run(LESSON, "--n-train", 80, *(no_l2 if quick else ()), out=out)["stdout"])
    large = max(w for w, _ in base)
    return {
        "no_l2_large_20": base[large, 0.0],
        "no_l2_large_80": more[large, 0.0],
        "no_l2_best_width_80": min((w for w, s in more if s == 0), key=lambda w: more[w, 0.0][0]),
    }


# %% Exercise 3
# Kind: write code
# Time: 20 min
# Practises: what weight_decay does; L2 in the cost vs decoupled weight decay (AdamW)
# Checked by: tests/test_solutions_lj.py
# Change: the function ``l2_two_ways`` below trains two copies of one network for 200 steps: one with the
#    lesson's cost :math:`\mathrm{MSE} + (\lambda / 2) \sum \theta^2` and no weight_decay, the other with the
#    plain MSE and weight_decay = lambda; for SGD, Adam and AdamW.
# Answer (measured 2026-12-06 on the 2-core VM, lambda = 0.01): the largest parameter difference is
#    7e-9 for SGD and 3e-7 for Adam (float32 rounding: the same method) but 0.52 for AdamW. This holds
#    on any machine.
# Why: the gradient of :math:`(\lambda / 2) \sum \theta^2` is :math:`\lambda \theta`, which is what SGD's and
#    Adam's weight_decay add to the gradient. AdamW instead shrinks the weights directly (theta -= lr lambda
#    theta), outside Adam's rescaling: "decoupled" weight decay (Loshchilov and Hutter, 2019), a different
#    method from L2 in the cost.


def l2_two_ways(optimizer, strength=1e-2, steps=200, lr=5e-3):
    """Largest parameter difference between L2 in the cost and weight_decay=strength."""
    data = LJDataset(20, 0.95, 2.5, noise=0.02, seed=0, spacing="random")
    models = []
    for decay in (False, True):
        torch.manual_seed(0)
        model = LJModel(GaussianBasis(40, 0.9, 3.0), 16, 2)
        opt = getattr(torch.optim, optimizer)(
            model.parameters(), lr=lr, weight_decay=strength if decay else 0.0
        )
        for _ in range(steps):
            opt.zero_grad()
            cost = ((model(data.r) - data.energy) ** 2).mean()
            if not decay:  # L2 written into the cost, as in the lesson's cell 3
                cost = cost + 0.5 * strength * sum((p**2).sum() for p in model.parameters())
            cost.backward()
            opt.step()
        models.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    return float((models[0] - models[1]).abs().max())


def exercise_3(out=None, quick=False):
    torch.set_num_threads(1)
    return {f"max_difference_{name}": l2_two_ways(name) for name in ("SGD", "Adam", "AdamW")}


if __name__ == "__main__":
    main(globals())
