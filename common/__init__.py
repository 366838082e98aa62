"""Shared code of the Lennard-Jones lessons (lj_*.py): one concept per module.

lj           the data: Lennard-Jones energy and force, ``LJDataset``            (slides 1, 3)
descriptors  one-hot and Gaussian basis encodings of a distance                (slide 4)
mlp          the neural network (GELU by default) and descriptor + network     (slides 4, 5)
training     cost function, one epoch of mini-batch descent, early stopping    (slides 6, 7, 9)
plotting     save figures always, show them only when there is a display
cli          command-line overrides of a script's constants, one-line errors
runs         one new TensorBoard folder per run                                 (slide 13)
"""
