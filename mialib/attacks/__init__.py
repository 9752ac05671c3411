"""Membership-inference attacks on diffusion models, all through :class:`DiffusionTarget`.

Every score is oriented so that HIGHER means MORE LIKELY A MEMBER.
"""

from .aggregation import METRICS as AGGREGATION_METRICS
from .baselines import naive_loss, pia_proximal
from .blind import blind_baseline
from .classifier import HeldoutScores
from .noise_aggregation import (noise_aggregation, noise_aggregation_noises, noise_aggregation_queries,
                                noise_aggregation_scores)
from .registry import ATTACKS, AttackInfo, get_attack, queries_table, run_attack
from .secmi import NNsResult, secmi_error_maps, secmi_nns, secmi_queries, secmi_stat, secmi_terror
from .target import DiffusionTarget, QueryCount

__all__ = ["DiffusionTarget", "QueryCount", "secmi_stat", "secmi_terror", "secmi_error_maps",
           "secmi_nns", "secmi_queries", "NNsResult", "naive_loss", "pia_proximal",
           "noise_aggregation", "noise_aggregation_noises", "noise_aggregation_queries",
           "noise_aggregation_scores",
           "AGGREGATION_METRICS", "blind_baseline", "HeldoutScores", "ATTACKS", "AttackInfo",
           "get_attack", "run_attack", "queries_table"]
