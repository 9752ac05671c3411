"""mialib: membership, property and fairness attacks on diffusion models.

The small library behind the notebook companion, grouped by kind (each module has one job):

- ``core/``        paths, atomic writes, the model cache, seeding, progress bars, checks, configs
- ``data/``        image sets in [-1, 1] and their loaders, member / non-member splits, shifts
- ``diffusion/``   UNet and schedule factories, DDIM, training and its cached entry point,
                   sampling, the DiffusionTarget adapter, memorising denoisers for controls
- ``attacks/``     the membership attacks (one settings class each), their registry, and the
                   scoring of a split with fixed seeds
- ``evaluation/``  metrics with bootstrap intervals, paired comparisons and verdicts, plots,
                   the papers' reported numbers, the text that reports a run
- ``notebook/``    profiles, the papermill runner, the results/figures writer, the HTML build and
                   the student versions
- ``experiments/`` what the notebooks run, from their parameters to data and trained models:
                   membership inference, parameter sweeps, property inference, fairness
                   poisoning, text-to-image
- ``property``, ``fairness``  the second half's public names (code in attacks/ and evaluation/)

``mialib.attacks`` and ``mialib.metrics`` keep their original names for code outside the
repository. The papers the code implements, with the equations docstrings cite as
"docs/papers.md, eq. N", are in ``docs/papers.md``.
"""

__version__ = "0.1.0"
