"""Diffusion models, independent of any attack: model and schedule factories (:mod:`.models`),
the DDIM map (:mod:`.ddim`), the training loop (:mod:`.training`), the one training entry point
with its cache (:mod:`.trained`), sampling (:mod:`.sampling`), the adapter the attacks query
(:mod:`.target`) and synthetic memorising denoisers for controls (:mod:`.controls`)."""

from .models import ModelConfig, build_scheduler, build_unet, count_parameters, resolve_device
from .target import CondSpec, DiffusionTarget, QueryCount
from .trained import TrainedModel, model_key, train_for_budgets, train_model, train_models
from .training import TrainConfig, train_diffusion

__all__ = ["ModelConfig", "build_scheduler", "build_unet", "count_parameters", "resolve_device",
           "CondSpec", "DiffusionTarget", "QueryCount", "TrainedModel", "model_key", "train_for_budgets",
           "train_model", "train_models", "TrainConfig", "train_diffusion"]
