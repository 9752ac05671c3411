"""Audit your own model: one call (and one command, ``mialib audit``) from a local diffusers
folder and two folders of images to a report of how much the model leaks about its members.

The steps are one module each: what the user gave is checked and loaded (:mod:`.model`: the
diffusers folder as a :class:`~mialib.diffusion.target.DiffusionTarget`; :mod:`.inputs`: the
image folders or arrays, labels and captions, and the evaluation / calibration split), every
attack's scores are kept as they finish so an interrupted audit resumes (:mod:`.store`), the
split is checked and every attack scored and judged (:mod:`.run`), the report is written
(:mod:`.report`), and :mod:`.cli` is the command line over it (``mialib audit``, or
``python -m mialib.audit`` through :mod:`.__main__`).
Every refusal is an :class:`.errors.AuditError` with a message for the user (:mod:`.errors`).

    from mialib.audit.run import run_audit
    result = run_audit("my_ddpm/", members="train_pngs/", nonmembers="held_out_pngs/", out="audit/")
"""
