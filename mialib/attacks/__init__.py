"""Membership-inference attacks on diffusion models, all through :class:`DiffusionTarget`.

Every score is oriented so that HIGHER means MORE LIKELY A MEMBER.

The public face of each attack is its function, which implements it and takes the paper's
parameters: :func:`naive_loss`, :func:`pia_proximal`, :func:`secmi_stat` (with its steps
:func:`secmi_error_maps` and :func:`secmi_terror`), :func:`secmi_nns`,
:func:`noise_aggregation` (with its steps :func:`noise_aggregation_noises` and
:func:`noise_aggregation_scores`) and :func:`blind_baseline`. Each per-image attack's
settings are one class (:class:`NaiveLoss`, :class:`PIA`, :class:`SecMI`,
:class:`NoiseAggregation`): the defaults the functions take (written once, there), the
parameter checks, ``queries()`` (model queries per image) and ``scores()``, the function
called with those settings. The registry (:data:`ATTACKS`, :func:`run_attack`,
:func:`attack_settings`) lists those settings by name for code that runs every attack, and
:func:`score_split` scores a member / non-member split with one seeding rule. There is no
other face: no ``*_queries`` helpers, no registry wrappers per attack.

Modules: the settings base class (:mod:`.config`); the baselines naive loss and PIA
(:mod:`.baselines`); SecMI (:mod:`.secmi`); noise aggregation (:mod:`.noise_aggregation`) and its
aggregation statistics (:mod:`.aggregation`); the classifiers of SecMI_NNs and the blind baseline
(:mod:`.classifier`, :mod:`.blind`); the batch loop every attack uses (:mod:`.batching`); the
registry (:mod:`.registry`); the scoring of a split with one seeding rule (:mod:`.scoring`). The
other two attack families: property inference by a model's receiver (:mod:`.property`) and
fairness poisoning by its sharer (:mod:`.fairness`).
"""

from ..diffusion.target import CondSpec, DiffusionTarget, QueryCount
from .aggregation import METRICS as AGGREGATION_METRICS
from .baselines import PIA, NaiveLoss, naive_loss, pia_proximal
from .blind import blind_baseline
from .classifier import BLIND_CLASSIFIER, SECMI_NNS_CLASSIFIER, ClassifierConfig, HeldoutScores
from .config import AttackConfig
from .noise_aggregation import NoiseAggregation, noise_aggregation, noise_aggregation_noises, noise_aggregation_scores
from .registry import ATTACKS, CLASSIFIERS, AttackInfo, attack_settings, get_attack, run_attack
from .scoring import SEED_OFFSETS, SplitScores, part_generator, score_part, score_split
from .secmi import NNsResult, SecMI, secmi_error_maps, secmi_nns, secmi_stat, secmi_terror

__all__ = ["DiffusionTarget", "CondSpec", "QueryCount", "AttackConfig", "SecMI", "NoiseAggregation",
           "NaiveLoss", "PIA", "ClassifierConfig", "SECMI_NNS_CLASSIFIER", "BLIND_CLASSIFIER",
           "secmi_stat", "secmi_terror", "secmi_error_maps", "secmi_nns", "NNsResult",
           "naive_loss", "pia_proximal", "noise_aggregation", "noise_aggregation_noises",
           "noise_aggregation_scores", "AGGREGATION_METRICS",
           "blind_baseline", "HeldoutScores", "ATTACKS", "CLASSIFIERS", "AttackInfo", "attack_settings",
           "get_attack", "run_attack", "SEED_OFFSETS", "SplitScores", "part_generator",
           "score_part", "score_split"]
