"""mialib: membership, property and fairness attacks on diffusion models.

The small library behind the notebook companion. Modules, one job each:

- ``paths``      repository-relative locations (data/, figures/, results/, cache)
- ``seeding``    one seed for python, numpy and torch
- ``data``       image sets (scikit-learn digits, CIFAR-10 batches, image folders), scaled to [-1, 1]
- ``splits``     i.i.d. member / non-member / calibration splits, saved and hashed
- ``models``     diffusers UNet2DModel and DDPM scheduler factories
- ``training``   the denoising training loop (AdamW, EMA, seeded, resumable)
- ``cache``      trained models cached by config hash, written atomically
- ``experiment`` one call from notebook parameters to (data, trained target)
- ``attacks``    DiffusionTarget and the membership-inference attacks
- ``metrics``    exact ROC metrics, bootstrap confidence intervals, calibrated thresholds
- ``plots``      figure helpers (ROC curves, save_fig)
- ``results``    results/<notebook>.json writer
- ``reference``  the papers' reported numbers and external reference score files
"""

__version__ = "0.1.0"
