"""Membership-inference attacks on diffusion models, all through :class:`DiffusionTarget`.

Every score is oriented so that HIGHER means MORE LIKELY A MEMBER. Each attack's settings
(defaults, checks, queries) are one class (:class:`SecMI`, :class:`NoiseAggregation`,
:class:`NaiveLoss`, :class:`PIA`); the functions below are the public API and take the same
parameters.
"""

from ..diffusion.target import CondSpec, DiffusionTarget, QueryCount
from .aggregation import METRICS as AGGREGATION_METRICS
from .baselines import PIA, NaiveLoss, naive_loss, pia_proximal
from .blind import blind_baseline
from .classifier import BLIND_CLASSIFIER, SECMI_NNS_CLASSIFIER, ClassifierConfig, HeldoutScores
from .config import AttackConfig
from .noise_aggregation import (NoiseAggregation, noise_aggregation, noise_aggregation_noises,
                                noise_aggregation_queries, noise_aggregation_scores)
from .registry import ATTACKS, CLASSIFIERS, AttackInfo, attack_settings, get_attack, queries_table, run_attack
from .scoring import SEED_OFFSETS, SplitScores, part_generator, score_part, score_split
from .secmi import NNsResult, SecMI, secmi_error_maps, secmi_nns, secmi_queries, secmi_stat, secmi_terror

__all__ = ["DiffusionTarget", "CondSpec", "QueryCount", "AttackConfig", "SecMI", "NoiseAggregation",
           "NaiveLoss", "PIA", "ClassifierConfig", "SECMI_NNS_CLASSIFIER", "BLIND_CLASSIFIER",
           "secmi_stat", "secmi_terror", "secmi_error_maps", "secmi_nns", "secmi_queries", "NNsResult",
           "naive_loss", "pia_proximal", "noise_aggregation", "noise_aggregation_noises",
           "noise_aggregation_queries", "noise_aggregation_scores", "AGGREGATION_METRICS",
           "blind_baseline", "HeldoutScores", "ATTACKS", "CLASSIFIERS", "AttackInfo", "attack_settings",
           "get_attack", "run_attack", "queries_table", "SEED_OFFSETS", "SplitScores", "part_generator",
           "score_part", "score_split"]
