"""mialib: membership, property and fairness attacks on diffusion models.

The small library behind the notebook companion. Its folders are the data flow, and each layer
imports only the layers above it in this list (tests/architecture/test_layers.py checks it):

- ``core/``        paths, atomic writes, the model cache, seeding, progress bars, checks, configs
- ``data/``        image sets in [-1, 1] and their loaders, coloured digits and their captions,
                   member / non-member splits, shifts, externally produced score files
- ``diffusion/``   UNet and schedule factories, DDIM, the one training loop and its objectives,
                   the one cache path, the one sampler, the tiny text-to-image parts,
                   DiffusionTarget and its adapters, memorising denoisers for controls
- ``attacks/``     the membership attacks (one settings class each), their registry and the
                   scoring of a split; property-inference estimators; fairness-poisoning selections
- ``evaluation/``  metrics with bootstrap intervals, the one verdict rule, estimate and fairness
                   metrics, plots and figures, the papers' reported numbers, the text of a report
- ``experiments/`` what the notebooks run, from their parameters to data, trained models and
                   sweeps: membership inference, the comparison of notebook 04, property
                   inference, fairness poisoning, text-to-image
- ``notebook/``    profiles, the papermill runner, the results/figures writer, the HTML build and
                   the student versions

The public face is these layer packages and their modules. Two more names are kept for code
outside the repository: ``mialib.metrics`` (the metrics of ``mialib.evaluation.metrics``) and
``DiffusionTarget`` importable from ``mialib.attacks``. The papers the code implements, with the
equations docstrings cite as "docs/papers.md, eq. N", are in ``docs/papers.md``.
"""

__version__ = "0.1.0"
