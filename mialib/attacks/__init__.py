"""Membership-inference attacks on diffusion models, all through :class:`DiffusionTarget`.

Every score is oriented so that HIGHER means MORE LIKELY A MEMBER.
"""

from .secmi import NNsResult, secmi_error_maps, secmi_nns, secmi_queries, secmi_stat, secmi_terror
from .target import DiffusionTarget, QueryCount

__all__ = ["DiffusionTarget", "QueryCount", "secmi_stat", "secmi_terror", "secmi_error_maps",
           "secmi_nns", "secmi_queries", "NNsResult"]
