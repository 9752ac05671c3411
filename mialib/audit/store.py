"""Where an audit keeps what it has scored, so that an interrupted audit resumes where it stopped
and a rerun with more attacks scores only the new ones.

``<out>/audit.json`` names the model and images the folder belongs to (their fingerprints) and the
seed; each attack's scores go to ``<out>/scores/<name>.safetensors`` (one tensor per part, its
settings, queries and time in the metadata), written atomically the moment the attack finishes.
A folder that holds the audit of another model or other images is refused, never overwritten.
A score file that cannot be read, or that was made with other settings, is scored again.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..core.fileio import atomic_path, write_json
from .errors import AuditError

FORMAT = 1


class ScoreStore:
    """The scores of one audit in ``folder`` (see the module docstring)."""

    def __init__(self, folder: str | Path, identity: dict):
        self.folder = Path(folder).expanduser()
        self.identity = {"format": FORMAT, **identity}
        manifest = self.folder / "audit.json"
        if manifest.is_file():
            try:
                found = json.loads(manifest.read_text())
            except ValueError:
                found = None
            if found != self.identity:
                differ = sorted(k for k in set(self.identity) | set(found or {})
                                if (found or {}).get(k) != self.identity.get(k))
                raise AuditError(f"--out {self.folder} holds another audit (its {', '.join(differ)} differ from this one's); "
                                 "choose another folder, or delete that one to start again")
        elif self.folder.is_dir() and any(self.folder.iterdir()):
            raise AuditError(f"--out {self.folder} is not empty and holds no audit; choose an empty or new folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "scores").mkdir(exist_ok=True)
        if not manifest.is_file():
            write_json(manifest, self.identity)

    def _path(self, name: str) -> Path:
        return self.folder / "scores" / f"{name}.safetensors"

    def load(self, name: str, settings: dict) -> dict | None:
        """The stored scores of attack ``name`` ({part: Tensor, "meta": dict}) if they were made with
        ``settings``; None if there are none, they are unreadable, or were made otherwise."""
        from safetensors import SafetensorError, safe_open

        path = self._path(name)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as st:
                meta = json.loads(st.metadata().get("meta", "{}"))
                tensors = {k: st.get_tensor(k) for k in st.keys()}
        except (SafetensorError, OSError, ValueError, RuntimeError):
            return None
        if meta.get("settings") != settings:
            return None
        return {**tensors, "meta": meta}

    def save(self, name: str, tensors: dict[str, torch.Tensor], meta: dict) -> Path:
        """Store ``tensors`` (part -> scores) and ``meta`` (JSON-able, with ``settings``) atomically."""
        from safetensors.torch import save_file

        path = self._path(name)
        with atomic_path(path) as tmp:
            save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp),
                      metadata={"meta": json.dumps(meta, sort_keys=True)})
        return path
