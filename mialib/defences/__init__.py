"""Defences of a diffusion model against membership inference, trained through the one training
loop (:mod:`mialib.diffusion.training`):

- :mod:`.dp`: DP-SGD (Abadi et al. 2016) with per-sample clipping from opacus' per-sample
  gradients, Poisson sampling, and the Rényi-DP accountant (Mironov et al. 2019) giving (ε, δ);
- :mod:`.augment`: label-preserving data augmentation (pixel shifts, horizontal flips).

Weight decay is AdamW's own (``TrainConfig.weight_decay``), and early stopping is a training
budget (the cached snapshots of :func:`mialib.diffusion.trained.train_for_budgets`).
"""
