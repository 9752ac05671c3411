"""Attack results that cost a training of their own, computed once per target and shared by every
notebook that reports them. SecMI_NNs (Duan et al. 2023, Sec. 4.2: a classifier on the
|x^ - x~| maps) trains a network; notebooks 02 and 04 both report it on the same target, split
and settings, so the first to ask computes it and the other loads it (the model cache's entry
and lock, :mod:`mialib.diffusion.entries`: two notebooks running side by side wait for each
other instead of training twice). The scores are stored as safetensors, nothing is unpickled;
a corrupt entry is recomputed.
"""

from __future__ import annotations

import numpy as np
import torch

from ..attacks.secmi import NNsResult
from ..core import cache
from ..diffusion import entries
from .comparison import run_secmi_nns

_TENSORS = "scores"


def secmi_nns_key(model_key: str, split_hash: str, settings: dict, seed: int, device) -> str:
    """The cache key of SecMI_NNs on the model of cache entry ``model_key`` and the split
    ``split_hash``, at SecMI_stat's t_sec and k and the ``secmi_nns`` classifier recipe of
    ``settings``, with ``seed``, on ``device``."""
    secmi = settings["secmi_stat"]
    return "secmi_nns-" + cache.config_hash({
        "kind": "secmi_nns", "model": model_key, "split": split_hash, "t_sec": secmi.t_sec, "k": secmi.k,
        "recipe": settings["secmi_nns"].to_dict(), "seed": int(seed), "device": str(torch.device(device).type)})


def _from_entry(key: str):
    def wrap(_components: dict, record: dict) -> tuple[NNsResult, float]:
        from safetensors.torch import load_file

        t = load_file(str(cache.entry_dir(key) / f"{_TENSORS}.safetensors"))
        res = NNsResult(member_scores=t["member_scores"], nonmember_scores=t["nonmember_scores"],
                        member_eval_idx=t["member_eval_idx"].numpy().astype(np.int64),
                        nonmember_eval_idx=t["nonmember_eval_idx"].numpy().astype(np.int64),
                        train_loss=t["train_loss"].tolist(), queries_per_image=int(record["queries_per_image"]))
        return res, float(record["seconds_per_1000"])
    return wrap


def secmi_nns_once(exp, *, seed: int, progress: bool = True) -> tuple[NNsResult, float]:
    """SecMI_NNs of :func:`.comparison.run_secmi_nns` on the experiment ``exp``
    (:class:`.membership.MembershipExperiment`): (its result, seconds per 1000 evaluation images
    when it was computed), loaded from the cache when another notebook already computed it."""
    key = secmi_nns_key(exp.model.key, exp.data.split.hash, exp.settings, seed, exp.target.device)

    def compute() -> tuple[NNsResult, float]:
        res, seconds = run_secmi_nns(exp.target, exp.data, exp.settings, seed=seed, progress=progress)
        tensors = {"member_scores": res.member_scores.detach().cpu().contiguous(),
                   "nonmember_scores": res.nonmember_scores.detach().cpu().contiguous(),
                   "member_eval_idx": torch.as_tensor(np.asarray(res.member_eval_idx, dtype=np.int64)),
                   "nonmember_eval_idx": torch.as_tensor(np.asarray(res.nonmember_eval_idx, dtype=np.int64)),
                   "train_loss": torch.tensor(res.train_loss, dtype=torch.float64)}
        cache.save_entry(key, {}, entries.training_record(
            {"kind": "secmi_nns", "model": exp.model.key, "split": exp.data.split.hash,
             "queries_per_image": res.queries_per_image, "seconds_per_1000": seconds},
            wall_time_s=seconds * (len(exp.data.members) + len(exp.data.nonmembers)) / 1000,
            device=exp.target.device), tensors={_TENSORS: (tensors, {})})
        return res, seconds

    return entries.load_or_train(key, ("queries_per_image", "seconds_per_1000"), _from_entry(key), compute)
