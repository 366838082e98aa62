"""What several lessons share, one concept per module.

lj           the data: Lennard-Jones energy and force, ``LJDataset``                     (slides 1, 3)
descriptors  one-hot and Gaussian basis encodings of a distance                         (slide 4)
mlp          the neural network (GELU by default) and descriptor + network              (slides 4, 5)
training     the training loop of lj_1 and lj_2 as one function, early stopping         (slides 6, 7, 9)
sweeps       many small trainings at once (lj_4, lj_5)                                  (slides 10, 11)
plotting     figures: saved always, shown where there is a screen
runs         where outputs go (ML_TUTORIAL_OUTPUT), one TensorBoard folder per run     (slide 13)
settings     the one line of set-up: command-line overrides, checks, quick settings
rules        what each setting may be (one rule per name) and the reduced settings
"""
