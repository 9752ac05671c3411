"""Where images come from; each loader returns an :class:`~.images.ImageSet` in [-1, 1]:

- ``load_digits``: scikit-learn's shipped 8x8 digits, the embedded default (no download);
- ``load_cifar10``: CIFAR-10 placed by the user under ``data/`` (python or binary batches);
- ``load_image_folder``: any folder of images under ``data/``, with an optional attributes CSV;
- ``load_dataset``: the one a notebook's ``dataset`` parameter names.

Nothing is downloaded; a missing data set raises :class:`DataNotFoundError` saying where to
put it.
"""

from __future__ import annotations

import csv
import io
import pickle
from collections import Counter
from pathlib import Path

import numpy as np

from ..core import paths
from ..core.checks import check_int
from .images import ImageSet, resize, to_unit_range

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


class DataNotFoundError(FileNotFoundError):
    """A data set the user must place under data/ is missing; the message says where."""


def load_digits(image_size: int = 8) -> ImageSet:
    """scikit-learn's shipped handwritten digits: 1797 grey 8x8 images, values 0..16,
    labels 0..9. Scaled to [-1, 1]; resized when ``image_size`` != 8."""
    from sklearn.datasets import load_digits as _sk_load_digits

    d = _sk_load_digits()
    ds = ImageSet(name="digits", images=to_unit_range(d.images[:, None], 16.0),
                  labels=d.target.astype(np.int64))
    return resize(ds, image_size)


def _missing(path: Path, what: str, how: str) -> DataNotFoundError:
    return DataNotFoundError(f"{what} not found at {path}. {how}")


class _Refused(pickle.UnpicklingError):
    """A pickle asked for something other than arrays and plain containers."""


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles only plain containers and numpy arrays: the CIFAR-10 python batches need
    nothing else, and an untrusted pickle asking for any other callable is refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise _Refused(f"refusing to unpickle {module}.{name}: CIFAR-10 batches "
                                     "hold only arrays, lists and dicts")


def _read_python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as fh:
            obj = _ArrayOnlyUnpickler(io.BytesIO(fh.read()), encoding="bytes").load()
    except _Refused as exc:
        raise ValueError(f"{path}: {exc}") from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise ValueError(f"{path}: not a CIFAR-10 python batch (unreadable pickle: "
                         f"{type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: not a CIFAR-10 python batch (expected a dict)")
    obj = {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}
    if "data" not in obj or "labels" not in obj:
        raise ValueError(f"{path}: a CIFAR-10 batch needs 'data' and 'labels' entries")
    data, labels = np.asarray(obj["data"]), np.asarray(obj["labels"])
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels) or len(data) == 0:
        raise ValueError(f"{path}: 'data' must be N x 3072 pixel rows with one label each, got "
                         f"data {data.shape} and {len(labels)} labels")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: labels must be integers, got dtype {labels.dtype}")
    return _check_pixels(data, path).reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _check_pixels(data: np.ndarray, source) -> np.ndarray:
    """``data`` as uint8 after checking every value is an integer in 0..255 (a cast would
    silently wrap 256 to 0 and -1 to 255)."""
    if data.dtype == np.uint8:
        return data
    if not np.issubdtype(data.dtype, np.number) or data.size == 0 or np.any(data < 0) or np.any(data > 255) \
            or np.any(data != np.round(data)):
        lo, hi = (data.min(), data.max()) if data.size and np.issubdtype(data.dtype, np.number) else ("?", "?")
        raise ValueError(f"{source}: pixel values must be integers in 0..255, got dtype {data.dtype} "
                         f"with range [{lo}, {hi}]")
    return data.astype(np.uint8)


def _read_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % 3073:
        raise ValueError(f"{path}: not a CIFAR-10 binary batch (size {raw.size} is not a "
                         "multiple of 3073 bytes)")
    rec = raw.reshape(-1, 3073)
    return rec[:, 1:].reshape(-1, 3, 32, 32), rec[:, 0].astype(np.int64)


def load_cifar10(root: str | Path | None = None, split: str = "train",
                 image_size: int = 32) -> ImageSet:
    """CIFAR-10 from the batches the user placed under ``data/``: the python version
    (``data/cifar-10-batches-py/data_batch_1..5``, ``test_batch``) or the binary version
    (``data/cifar-10-batches-bin/data_batch_1..5.bin``, ``test_batch.bin``). Nothing is
    downloaded. ``split`` is "train", "test" or "all"."""
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    names = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    wanted = names["train"] + names["test"] if split == "all" else names[split]
    base = Path(root) if root is not None else paths.data_dir()
    py_dir, bin_dir = base / "cifar-10-batches-py", base / "cifar-10-batches-bin"
    if py_dir.is_dir():
        files, reader = [py_dir / n for n in wanted], _read_python_batch
    elif bin_dir.is_dir():
        files, reader = [bin_dir / f"{n}.bin" for n in wanted], _read_binary_batch
    else:
        raise _missing(py_dir, "CIFAR-10", "Download 'CIFAR-10 python version' from "
                       "https://www.cs.toronto.edu/~kriz/cifar.html on a machine with internet "
                       f"and extract it so that {py_dir}/data_batch_1 exists (the binary "
                       f"version under {bin_dir} works too).")
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise _missing(missing[0], "CIFAR-10 batch file", f"Expected batches {wanted}.")
    parts = [reader(f) for f in files]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    ds = ImageSet(name=f"cifar10-{split}", images=to_unit_range(images, 255.0), labels=labels)
    return resize(ds, image_size)


def _is_integer(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _read_attributes(csv_path: Path, filenames: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Per-image attribute columns of ``csv_path`` (ints, else floats, else strings) and the
    ``label`` column (which must hold integers); every image needs exactly one row."""
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "filename" not in rows[0]:
        raise ValueError(f"{csv_path}: the attributes CSV needs a header with a 'filename' column")
    short = [r.get("filename") for r in rows if None in r.values()]
    if short:
        raise ValueError(f"{csv_path}: row for {short[0]!r} has fewer fields than the header")
    names = [r["filename"] for r in rows]
    repeated = sorted(n for n, count in Counter(names).items() if count > 1)
    if repeated:
        raise ValueError(f"{csv_path}: {len(repeated)} file name(s) have more than one row, e.g. {repeated[0]!r}")
    by_name = {r["filename"]: r for r in rows}
    absent = [f for f in filenames if f not in by_name]
    if absent:
        raise ValueError(f"{csv_path}: no row for {len(absent)} image(s), e.g. {absent[0]!r}")
    attrs = {}
    for col in rows[0]:
        if col == "filename":
            continue
        values = [by_name[f][col] for f in filenames]
        try:
            attrs[col] = np.asarray([int(v) for v in values], dtype=np.int64)
        except ValueError:
            if col == "label":
                bad = next(v for v in values if not _is_integer(v))
                raise ValueError(f"{csv_path}: the label column must hold integers, got {bad!r}") from None
            try:
                attrs[col] = np.asarray([float(v) for v in values], dtype=np.float64)
            except ValueError:
                attrs[col] = np.asarray(values, dtype=object)
    labels = attrs.pop("label", None)
    return attrs, labels


def load_image_folder(folder: str | Path, image_size: int, grayscale: bool = False,
                      attributes_csv: str | Path | None = "attributes.csv") -> ImageSet:
    """Every image file directly inside ``folder`` (relative paths resolve under ``data/``),
    sorted by name, resized to ``image_size`` and scaled to [-1, 1]. If the folder holds
    ``attributes_csv`` (columns ``filename``, then one column per attribute; a column named
    ``label`` becomes the labels), its columns become per-image attributes."""
    from PIL import Image

    folder = Path(folder)
    if not folder.is_absolute():
        folder = paths.data_dir() / folder
    if not folder.is_dir():
        raise _missing(folder, "Image folder", "Place your images (PNG/JPEG) in that folder.")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise _missing(folder, f"Images ({', '.join(IMAGE_SUFFIXES)})",
                       "The folder exists but holds no image files.")
    check_int(image_size, "image_size", low=1)
    mode = "L" if grayscale else "RGB"
    arrays = []
    for f in files:
        try:
            with Image.open(f) as im:
                im = im.convert(mode).resize((image_size, image_size), Image.Resampling.BICUBIC)
                arr = np.asarray(im, dtype=np.uint8)
        except (OSError, ValueError) as exc:  # PIL's UnidentifiedImageError is an OSError
            raise ValueError(f"{f}: not a readable image ({type(exc).__name__}: {exc})") from exc
        arrays.append(arr[None] if grayscale else arr.transpose(2, 0, 1))
    attrs, labels = {}, None
    if attributes_csv is not None and (folder / attributes_csv).is_file():
        attrs, labels = _read_attributes(folder / attributes_csv, [f.name for f in files])
    return ImageSet(name=folder.name, images=to_unit_range(np.stack(arrays), 255.0),
                    labels=labels, attributes=attrs)


def load_dataset(name: str, image_size: int) -> ImageSet:
    """The data set a notebook's ``dataset`` parameter names: "digits", "cifar10" (train
    split) or "folder:<path under data/>"."""
    if name == "digits":
        return load_digits(image_size)
    if name == "cifar10":
        return load_cifar10(image_size=image_size)
    if name.startswith("folder:"):
        return load_image_folder(name.split(":", 1)[1], image_size)
    raise ValueError(f"unknown dataset {name!r}: use 'digits', 'cifar10' or 'folder:<path>'")
