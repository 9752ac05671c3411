"""The images of an audit, their labels or captions, and the split into evaluation and calibration.

Images come from a folder (PNG / JPEG / BMP / WebP, any size) or from a ``.npy`` / ``.npz`` array
Tensor[N, C, H, W] already in [-1, 1] (or a Tensor given to the library call). Image files are
brought to the model's size by the rule of diffusers' training examples (``train_unconditional.py``,
``train_text_to_image.py``): the shorter side resized to the model's size (bilinear), then a
centre crop; images already of that size are untouched. The report states the rule. Colour images
for a one-channel model are converted to grey, and grey images for a three-channel model to RGB;
any other channel count is refused.

Labels (a class-conditional model) and captions (a text-to-image model) come from a CSV with a
``filename`` column and a ``label`` or ``caption`` column; for an array, ``filename`` holds the
row number. Every image needs one row, and a row for a file that is not there is refused too.

Each folder is split by a seeded permutation into calibration images (``calibration``, a share of
each folder: where the thresholds of the calibrated metrics are chosen) and evaluation images
(where every metric is measured), unless calibration folders are given apart.
"""

from __future__ import annotations

import csv
import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data.images import fingerprint
from ..data.loaders import IMAGE_SUFFIXES
from .errors import AuditError

MIN_EVALUATION = 20    # evaluation images per side below which an audit is refused: no interval means anything
WARN_EVALUATION = 100  # ... below which it warns: TPR at 1% FPR needs 100 non-members to see one false positive
RESIZE_RULE = "shorter side resized to the model's size (bilinear), then a centre crop (diffusers' training examples)"
PARTS = ("members", "nonmembers", "cal_members", "cal_nonmembers")


@dataclass
class ImageSource:
    """Images from one folder or array, with a name per image (the file name, or the row number),
    how many of them were resized, and each one's conditioning once read (:func:`with_conditioning`)."""

    images: torch.Tensor
    names: list[str]
    origin: str
    resized: int = 0
    cond: list | None = None

    def take(self, idx) -> "ImageSource":
        idx = np.asarray(idx, dtype=np.int64)
        return ImageSource(self.images[torch.from_numpy(idx)], [self.names[i] for i in idx], self.origin, self.resized,
                           None if self.cond is None else [self.cond[i] for i in idx])


def _read_file(path: Path, mode: str, size: tuple[int, int]) -> tuple[np.ndarray, bool]:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()  # a truncated file fails here, not later
            bands = len(im.getbands())
            if bands not in (1, 2, 3, 4):
                raise AuditError(f"{path}: an image of {bands} channels cannot be fed to this model")
            im = im.convert(mode)
            w, h = im.size
            resized = (w, h) != (size[1], size[0])
            if resized:
                scale = max(size[1] / w, size[0] / h)
                im = im.resize((max(size[1], round(w * scale)), max(size[0], round(h * scale))), Image.Resampling.BILINEAR)
                left, top = (im.size[0] - size[1]) // 2, (im.size[1] - size[0]) // 2
                im = im.crop((left, top, left + size[1], top + size[0]))
            arr = np.asarray(im, dtype=np.uint8)
    except AuditError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:  # PIL's UnidentifiedImageError is an OSError
        raise AuditError(f"{path}: not a readable image ({type(exc).__name__}: {exc})") from None
    return (arr[None] if mode == "L" else arr.transpose(2, 0, 1)), resized


def _read_array(path: Path, shape: tuple[int, int, int]) -> np.ndarray:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise AuditError(f"{path}: not a readable numpy array without pickles ({exc})") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        keys = list(loaded.keys())
        key = "images" if "images" in keys else keys[0] if len(keys) == 1 else None
        if key is None:
            raise AuditError(f"{path} holds arrays {keys}: name the images 'images' or keep one array")
        loaded = loaded[key]
    arr = np.asarray(loaded)
    if arr.ndim != 4 or tuple(arr.shape[1:]) != tuple(shape):
        raise AuditError(f"{path}: an array of images must be [N, {shape[0]}, {shape[1]}, {shape[2]}] for this model, "
                         f"got shape {arr.shape} (arrays are not resized: export them at the model's size)")
    if not np.issubdtype(arr.dtype, np.floating) or not np.isfinite(arr).all() or arr.min() < -1 - 1e-4 or arr.max() > 1 + 1e-4:
        raise AuditError(f"{path}: an array of images must hold finite floats in [-1, 1] (x / 127.5 - 1 for 8-bit pixels)")
    return arr.astype(np.float32)


def read_images(source, image_shape: tuple[int, int, int], what: str) -> ImageSource:
    """The images of ``source``: a folder of image files, a .npy / .npz file, or a Tensor[N, C, H, W]
    in [-1, 1], brought to ``image_shape`` (C, H, W) as the module docstring says."""
    c, h, w = image_shape
    if isinstance(source, torch.Tensor):
        x = source.detach().float().cpu()
        if x.ndim != 4 or tuple(x.shape[1:]) != tuple(image_shape):
            raise AuditError(f"{what}: images must be a Tensor[N, {c}, {h}, {w}], got shape {tuple(x.shape)}")
        if not torch.isfinite(x).all() or x.min() < -1 - 1e-4 or x.max() > 1 + 1e-4:
            raise AuditError(f"{what}: images must be finite values in [-1, 1]")
        return ImageSource(x, [str(i) for i in range(len(x))], f"a tensor of {len(x)} images")
    path = Path(source).expanduser()
    if path.is_file() and path.suffix in (".npy", ".npz"):
        arr = _read_array(path, image_shape)
        return ImageSource(torch.from_numpy(arr), [str(i) for i in range(len(arr))], str(path))
    if not path.exists():
        raise AuditError(f"{what}: no folder or array at {path.resolve()}")
    if not path.is_dir():
        raise AuditError(f"{what}: {path} is neither a folder of images nor a .npy / .npz array")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise AuditError(f"{what}: {path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    if c not in (1, 3):
        raise AuditError(f"{what}: the model takes {c}-channel images; image files give 1 (grey) or 3 (RGB): "
                         "export the images as a .npy array of that shape")
    arrays, resized = [], 0
    for f in files:
        arr, was = _read_file(f, "L" if c == 1 else "RGB", (h, w))
        arrays.append(arr)
        resized += was
    x = torch.from_numpy(np.stack(arrays).astype(np.float32) / 127.5 - 1.0)
    return ImageSource(x, [f.name for f in files], str(path), resized)


def read_table(path, column: str, names: list[str], what: str) -> list[str]:
    """The ``column`` entry of each image of ``names`` from the CSV at ``path`` (columns
    ``filename`` and ``column``); every image needs exactly one row and every row one image."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise AuditError(f"{what}: no file {path.resolve()}")
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AuditError(f"{path}: not a readable CSV ({exc})") from None
    if not rows or "filename" not in rows[0] or column not in rows[0]:
        raise AuditError(f"{path}: the CSV needs a header with the columns filename,{column}")
    by_name: dict[str, str] = {}
    for r in rows:
        if r["filename"] in by_name:
            raise AuditError(f"{path}: {r['filename']!r} has more than one row")
        by_name[r["filename"]] = r[column]
    missing = [n for n in names if n not in by_name]
    if missing:
        raise AuditError(f"{path}: no row for {len(missing)} image(s), e.g. {missing[0]!r}")
    return [by_name[n] for n in names]


def with_conditioning(sources: list[ImageSource], path, kind: str, num_classes: int | None = None) -> list[ImageSource]:
    """``sources`` with each image's class label (``kind`` "class", integers in [0, num_classes))
    or caption (``kind`` "text") from the CSV at ``path``; a row whose file is in no source is refused."""
    column = "label" if kind == "class" else "caption"
    what = "--class-labels" if kind == "class" else "--captions"
    out = []
    for src in sources:
        values = read_table(path, column, src.names, what)
        if kind == "class":
            bad = [v for v in values if not v.strip().lstrip("-").isdigit() or not 0 <= int(v) < num_classes]
            if bad:
                raise AuditError(f"{path}: labels must be integers in [0, {num_classes - 1}] for this model, got {bad[0]!r}")
            values = [int(v) for v in values]
        elif any(not v.strip() for v in values):
            raise AuditError(f"{path}: every image needs a non-empty caption")
        out.append(ImageSource(src.images, src.names, src.origin, src.resized, values))
    with open(Path(path).expanduser(), newline="") as fh:
        listed = [r.get("filename") for r in csv.DictReader(fh)]
    known = {n for src in sources for n in src.names}
    stray = [n for n in listed if n not in known]
    if stray:
        raise AuditError(f"{path}: {len(stray)} row(s) name images in none of the folders, e.g. {stray[0]!r}")
    return out


@dataclass
class AuditSplit:
    """The four parts the attacks score (the duck type of :func:`mialib.attacks.scoring.score_split`),
    each image's name, each part's conditioning (class labels or captions; None for an
    unconditional model) and how the split was made."""

    members: torch.Tensor
    nonmembers: torch.Tensor
    cal_members: torch.Tensor | None
    cal_nonmembers: torch.Tensor | None
    names: dict[str, list[str]]
    cond: dict[str, object] | None
    how: str
    warnings: list[str] = field(default_factory=list)

    @property
    def calibrated(self) -> bool:
        return self.cal_members is not None and len(self.cal_members) > 0

    def fingerprint(self) -> str:
        """SHA-256 (16 hex characters) of every part's images, names and conditioning."""
        h = hashlib.sha256()
        for p in PARTS:
            x = getattr(self, p)
            h.update(f"{p}:{'-' if x is None else fingerprint(x)}:{self.names.get(p)}".encode())
            if self.cond is not None and p in self.cond:
                c = self.cond[p]
                h.update(repr(c.tolist() if hasattr(c, "tolist") else list(c)).encode())
        return h.hexdigest()[:16]


def _cap(src: ImageSource, max_images: int | None, rng: np.random.Generator) -> ImageSource:
    if max_images is None or len(src.names) <= max_images:
        return src
    return src.take(np.sort(rng.choice(len(src.names), max_images, replace=False)))


def _cut(src: ImageSource, share: float, rng: np.random.Generator) -> tuple[ImageSource, ImageSource]:
    perm = rng.permutation(len(src.names))
    k = int(round(share * len(src.names)))
    return src.take(np.sort(perm[k:])), src.take(np.sort(perm[:k]))


def build_split(members: ImageSource, nonmembers: ImageSource, *, calibration: float = 0.2,
                cal_members: ImageSource | None = None, cal_nonmembers: ImageSource | None = None,
                max_images: int | None = None, seed: int = 0) -> AuditSplit:
    """Evaluation and calibration parts from the members' and non-members' images: a seeded
    ``calibration`` share of each held out for the thresholds, unless both calibration sources are
    given (then ``calibration`` is not used); at most ``max_images`` of each source (a seeded
    subset). Fewer than :data:`MIN_EVALUATION` evaluation images on a side are refused, fewer than
    :data:`WARN_EVALUATION` warned about."""
    if not 0.0 <= calibration < 1.0:
        raise AuditError(f"--calibration is the share of each folder held out for thresholds, in [0, 1); got {calibration}")
    if (cal_members is None) != (cal_nonmembers is None):
        raise AuditError("give both calibration folders (members and non-members) or neither")
    rng = np.random.default_rng([seed, 7])
    members, nonmembers = _cap(members, max_images, rng), _cap(nonmembers, max_images, rng)
    if cal_members is not None:
        cal_m, cal_n = _cap(cal_members, max_images, rng), _cap(cal_nonmembers, max_images, rng)
        how = (f"evaluation: {len(members.names)} members from {members.origin}, {len(nonmembers.names)} non-members "
               f"from {nonmembers.origin}; calibration: {len(cal_m.names)} + {len(cal_n.names)} images given apart")
    else:
        members, cal_m = _cut(members, calibration, rng)
        nonmembers, cal_n = _cut(nonmembers, calibration, rng)
        how = (f"{len(members.names)} members and {len(nonmembers.names)} non-members evaluated; a seeded "
               f"{calibration:.0%} of each folder ({len(cal_m.names)} + {len(cal_n.names)} images) held out to choose "
               "the thresholds of the calibrated metrics")
    short = [f"{n} ({len(s.names)})" for n, s in (("members", members), ("non-members", nonmembers))
             if len(s.names) < MIN_EVALUATION]
    if short:
        raise AuditError(f"too few evaluation images: {', '.join(short)}; an audit needs at least {MIN_EVALUATION} of "
                         "each for its intervals to mean anything")
    notes = []
    if min(len(members.names), len(nonmembers.names)) < WARN_EVALUATION:
        notes.append(f"Fewer than {WARN_EVALUATION} evaluation images on a side: intervals are wide, and a TPR at 1% "
                     "FPR cannot see a single false positive.")
        warnings.warn(notes[-1], UserWarning, stacklevel=2)
    parts = {"members": members, "nonmembers": nonmembers, "cal_members": cal_m, "cal_nonmembers": cal_n}
    cond = None
    if members.cond is not None:
        cond = {p: (torch.tensor(src.cond, dtype=torch.long) if isinstance(src.cond[0], int) else list(src.cond))
                for p, src in parts.items() if src.names}
    return AuditSplit(members.images, nonmembers.images, cal_m.images if cal_m.names else None,
                      cal_n.images if cal_n.names else None, {p: src.names for p, src in parts.items()}, cond, how, notes)
