"""Known library notices that say nothing about a run, each dropped only where it arises and
only by its own text (never a blanket filter): :func:`dropping_log_message`, and the one import
that triggers transformers' torchvision notice, :func:`stable_diffusion_pipeline`."""

from __future__ import annotations

import contextlib
import logging

# transformers' logger and text for "`CLIPImageProcessor` requires torchvision (not installed);
# falling back to `CLIPImageProcessorPil` ..." (the same for SigLIP's)
TORCHVISION_NOTICE = ("transformers.utils.import_utils", "requires torchvision (not installed)")
# diffusers' ModelMixin.to warns of modules "that should be kept in float32" even when it names none
# (``[]``, as for every model here); a model that does name such modules still gets the warning
EMPTY_FLOAT32_NOTICE = ("diffusers.models.modeling_utils", "should be kept in float32: []")


class _DropMessage(logging.Filter):
    def __init__(self, fragment: str):
        super().__init__()
        self.fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self.fragment not in record.getMessage()


@contextlib.contextmanager
def dropping_log_message(logger_name: str, fragment: str):
    """For the block, drop the records that logger ``logger_name`` itself logs whose message
    contains ``fragment``; every other record, of it or any other logger, passes as before."""
    logger = logging.getLogger(logger_name)
    drop = _DropMessage(fragment)
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def stable_diffusion_pipeline():
    """diffusers' ``StableDiffusionPipeline`` class. Importing it imports transformers' CLIP and
    SigLIP image processors (for a safety checker and IP-adapters, which mialib never builds),
    and transformers then says they fall back to their PIL versions because torchvision is
    missing. torchvision stays uninstalled (it fails to import beside the pinned CPU torch), so
    that notice is dropped during this import, and only it."""
    with dropping_log_message(*TORCHVISION_NOTICE):
        from diffusers import StableDiffusionPipeline
    return StableDiffusionPipeline
