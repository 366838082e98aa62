"""The names that ACTIVATION and OPTIMIZER may take (slides 5 and 7).

Kept free of PyTorch, so that a script reports a misspelt name at once, before it loads PyTorch
(common/mlp.py and common/training.py map these names to torch classes).
"""

ACTIVATION_NAMES = ("gelu", "relu", "tanh", "silu", "softplus")
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adam", "adamw")
