"""Diffusion models, independent of any attack: model and schedule factories (:mod:`.models`),
the DDIM map (:mod:`.ddim`), the one training loop (:mod:`.training`) and what it minimises
(:mod:`.objectives`), the one cache path of every model kind (:mod:`.entries`) with the pixel
entry point (:mod:`.trained`) and the text-to-image one (:mod:`.text_to_image`), the parts of
a tiny Stable Diffusion model (:mod:`.parts`, :mod:`.tokenizer`, :mod:`.pipeline`) and what its
UNet reads (:mod:`.encoders`), the one sampler (:mod:`.sampling`), the generic adapter the
attacks query (:mod:`.target`) with its adapters for UNets and pipelines (:mod:`.adapters`),
synthetic memorising denoisers for controls (:mod:`.controls`), and a Gaussian-mixture generator
to compare the diffusion models with (:mod:`.mixture`)."""

from .models import ModelConfig, build_scheduler, build_unet, count_parameters, resolve_device
from .target import CondSpec, DiffusionTarget, QueryCount
from .trained import TrainedModel, model_key, train_for_budgets, train_model, train_models
from .training import TrainConfig, train_diffusion

__all__ = ["ModelConfig", "build_scheduler", "build_unet", "count_parameters", "resolve_device",
           "CondSpec", "DiffusionTarget", "QueryCount", "TrainedModel", "model_key", "train_for_budgets",
           "train_model", "train_models", "TrainConfig", "train_diffusion"]
