"""Image sets: digits, CIFAR-10 batches (python / binary, written here as tiny fixtures),
image folders with attribute CSVs, validation, transforms and fingerprints."""

from __future__ import annotations

import os
import pickle
import shlex
import warnings

import numpy as np
import pytest
import torch

from mialib.data import (DataNotFoundError, ImageSet, load_cifar10, load_dataset, load_digits,
                         load_image_folder, resize, subset)


# ----------------------------------------------------------------------------- digits
@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_load_digits_shape_dtype_range_labels(digits):
    assert len(digits) == 1797
    assert digits.images.shape == (1797, 1, 8, 8)
    assert digits.shape == (1, 8, 8)
    assert digits.images.dtype == torch.float32
    assert digits.images.min().item() == -1.0
    assert digits.images.max().item() == 1.0
    assert digits.labels.dtype == np.int64
    assert sorted(set(digits.labels.tolist())) == list(range(10))
    # pixel values 0..16 map to (v / 16) * 2 - 1: every value is a multiple of 1/8 minus 1
    grid = (digits.images + 1) * 8
    assert torch.equal(grid, grid.round())


def test_load_digits_matches_sklearn(digits):
    from sklearn.datasets import load_digits as sk

    d = sk()
    expected = torch.from_numpy(d.images[:, None].astype(np.float32) / 16 * 2 - 1)
    assert torch.allclose(digits.images, expected, atol=1e-6)
    assert np.array_equal(digits.labels, d.target)


def test_resize_up_stays_in_range(digits):
    big = load_digits(16)
    assert big.images.shape == (1797, 1, 16, 16)
    assert big.images.dtype == torch.float32
    assert big.images.min().item() >= -1.0 and big.images.max().item() <= 1.0
    assert np.array_equal(big.labels, digits.labels)
    # bilinear upsampling preserves the mean brightness approximately
    assert torch.allclose(big.images.mean(dim=(1, 2, 3)), digits.images.mean(dim=(1, 2, 3)), atol=0.1)


def test_resize_same_size_is_a_noop(digits):
    assert resize(digits, 8) is digits
    assert resize(digits, 4).images.shape == (1797, 1, 4, 4)
    with pytest.raises(ValueError):
        resize(digits, 0)


# ----------------------------------------------------------------------------- ImageSet
def _images(n=5, c=1, s=4):
    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1) / n  # image i is filled with i/n
    return x.expand(n, c, s, s).contiguous()


@pytest.mark.parametrize("bad", [
    torch.zeros(3, 8, 8),                        # 3-D
    np.zeros((2, 1, 4, 4), dtype=np.float32),    # not a tensor
    torch.zeros(0, 1, 4, 4),                     # empty
    torch.full((2, 1, 4, 4), 1.5),               # above 1
    torch.full((2, 1, 4, 4), -1.01),             # below -1
    torch.tensor([[[[float("nan")]]]]),          # NaN
    torch.tensor([[[[float("inf")]]]]),          # inf
    torch.zeros(2, 1, 4, 4, dtype=torch.float64),  # float64
])
def test_imageset_rejects_bad_images(bad):
    with pytest.raises(ValueError):
        ImageSet(name="bad", images=bad)


def test_imageset_rejects_misaligned_labels_and_attributes():
    x = _images(5)
    with pytest.raises(ValueError, match="labels"):
        ImageSet(name="x", images=x, labels=np.arange(4))
    with pytest.raises(ValueError, match="colour"):
        ImageSet(name="x", images=x, attributes={"colour": np.arange(6)})
    ok = ImageSet(name="x", images=x, labels=np.arange(5), attributes={"colour": np.arange(5)})
    assert len(ok) == 5 and ok.shape == (1, 4, 4)


def test_subset_keeps_labels_and_attributes_aligned():
    x = _images(5)
    ds = ImageSet(name="x", images=x, labels=np.array([10, 11, 12, 13, 14]),
                  attributes={"colour": np.array([0, 1, 2, 3, 4]),
                              "name": np.array(list("abcde"), dtype=object)})
    sub = subset(ds, [3, 0, 2])
    assert len(sub) == 3
    assert torch.equal(sub.images, x[[3, 0, 2]])
    assert sub.images[0, 0, 0, 0].item() == pytest.approx(3 / 5)
    assert sub.labels.tolist() == [13, 10, 12]
    assert sub.attributes["colour"].tolist() == [3, 0, 2]
    assert sub.attributes["name"].tolist() == ["d", "a", "c"]
    nolabels = subset(ImageSet(name="y", images=x), np.array([1]))
    assert nolabels.labels is None and nolabels.attributes == {}


def test_fingerprint_stable_and_sensitive():
    x = _images(5)
    ds = ImageSet(name="x", images=x, labels=np.arange(5))
    fp = ds.fingerprint()
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert ImageSet(name="other-name", images=x.clone(), labels=np.arange(5)).fingerprint() == fp
    assert ds.fingerprint() == fp
    y = x.clone()
    y[2, 0, 1, 3] += 0.001
    assert ImageSet(name="x", images=y, labels=np.arange(5)).fingerprint() != fp
    assert ImageSet(name="x", images=x, labels=np.array([0, 1, 2, 3, 5])).fingerprint() != fp
    assert ImageSet(name="x", images=x).fingerprint() != fp


# ----------------------------------------------------------------------------- CIFAR-10
BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
N_PER = 3


def _batch_content(file_idx):
    """Known pixels and labels of batch ``file_idx`` (0..5): row r of batch i holds
    (arange(3072) + 7 * (3i + r)) mod 256, label (3i + r) mod 10."""
    rows = np.arange(N_PER) + N_PER * file_idx
    data = ((np.arange(3072)[None, :] + 7 * rows[:, None]) % 256).astype(np.uint8)
    return data, [int(r % 10) for r in rows]


def _expected(file_indices):
    data = np.concatenate([_batch_content(i)[0] for i in file_indices])
    labels = sum((_batch_content(i)[1] for i in file_indices), [])
    imgs = data.reshape(-1, 3, 32, 32).astype(np.float64) / 255 * 2 - 1
    return torch.from_numpy(imgs).float(), np.array(labels)


def _write_python_cifar(root, numpy1_names=False):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i, name in enumerate(BATCHES):
        data, labels = _batch_content(i)
        blob = pickle.dumps({b"batch_label": b"batch " + name.encode(), b"labels": labels,
                             b"data": data, b"filenames": [b"f%d.png" % k for k in range(N_PER)]},
                            protocol=2)
        if numpy1_names:  # what the real files (pickled by numpy 1.x under python 2) name
            blob = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
        (folder / name).write_bytes(blob)
    return folder


def _write_binary_cifar(root):
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for i, name in enumerate(BATCHES):
        data, labels = _batch_content(i)
        rec = np.concatenate([np.array(labels, dtype=np.uint8)[:, None], data], axis=1)
        (folder / f"{name}.bin").write_bytes(rec.tobytes())
    return folder


@pytest.mark.parametrize("writer", ["python", "python-numpy1", "binary"])
@pytest.mark.parametrize("split,files", [("train", [0, 1, 2, 3, 4]), ("test", [5]),
                                         ("all", [0, 1, 2, 3, 4, 5])])
def test_load_cifar10_fixture(tmp_path, writer, split, files):
    if writer == "binary":
        _write_binary_cifar(tmp_path)
    else:
        _write_python_cifar(tmp_path, numpy1_names=writer == "python-numpy1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core is deprecated in numpy 2
        ds = load_cifar10(tmp_path, split=split)
    images, labels = _expected(files)
    assert len(ds) == N_PER * len(files)
    assert ds.images.shape == (N_PER * len(files), 3, 32, 32)
    assert ds.images.dtype == torch.float32
    assert torch.allclose(ds.images, images, atol=1e-6)
    assert ds.labels.tolist() == labels.tolist()
    assert ds.images.min().item() == -1.0 and ds.images.max().item() == 1.0
    assert ds.name == f"cifar10-{split}"


def test_load_cifar10_resizes(tmp_path):
    _write_binary_cifar(tmp_path)
    ds = load_cifar10(tmp_path, split="test", image_size=8)
    assert ds.images.shape == (3, 3, 8, 8)
    assert ds.images.min().item() >= -1 and ds.images.max().item() <= 1


def test_load_cifar10_default_root_is_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MIALIB_ROOT", str(tmp_path))
    _write_python_cifar(tmp_path / "data")
    ds = load_dataset("cifar10", 32)
    assert len(ds) == 15 and ds.labels.tolist() == _expected(range(5))[1].tolist()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"echo pwned > {shlex.quote(str(self.marker))}",))


def test_load_cifar10_refuses_malicious_pickle(tmp_path):
    folder = _write_python_cifar(tmp_path)
    marker = tmp_path / "pwned.txt"
    (folder / "data_batch_1").write_bytes(pickle.dumps(_Evil(marker), protocol=2))
    with pytest.raises(ValueError, match=r"data_batch_1: refusing to unpickle \w+\.system"):
        load_cifar10(tmp_path, split="train")
    assert not marker.exists()
    # the payload is live: plain pickle.loads would have run it
    pickle.loads((folder / "data_batch_1").read_bytes())
    assert marker.exists()


def test_load_cifar10_rejects_non_dict_pickle(tmp_path):
    folder = _write_python_cifar(tmp_path)
    (folder / "test_batch").write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(ValueError, match="dict"):
        load_cifar10(tmp_path, split="test")
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((1, 3072), np.uint8)}, protocol=2))
    with pytest.raises(ValueError, match="labels"):
        load_cifar10(tmp_path, split="test")


def test_load_cifar10_missing_folder(tmp_path):
    with pytest.raises(DataNotFoundError) as exc:
        load_cifar10(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere" / "cifar-10-batches-py") in str(exc.value)
    assert isinstance(exc.value, FileNotFoundError)


@pytest.mark.parametrize("writer,name,path", [
    ("python", "data_batch_3", "cifar-10-batches-py/data_batch_3"),
    ("binary", "data_batch_3.bin", "cifar-10-batches-bin/data_batch_3.bin"),
])
def test_load_cifar10_missing_batch_named(tmp_path, writer, name, path):
    folder = _write_binary_cifar(tmp_path) if writer == "binary" else _write_python_cifar(tmp_path)
    (folder / name).unlink()
    with pytest.raises(DataNotFoundError) as exc:
        load_cifar10(tmp_path, split="train")
    assert str(tmp_path / path) in str(exc.value)
    # the test split does not need the missing file
    assert len(load_cifar10(tmp_path, split="test")) == N_PER


def test_load_cifar10_bad_split_and_bad_binary(tmp_path):
    folder = _write_binary_cifar(tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_cifar10(tmp_path, split="validation")
    (folder / "test_batch.bin").write_bytes(b"\x00" * (3073 * 2 + 5))
    with pytest.raises(ValueError, match="3073"):
        load_cifar10(tmp_path, split="test")
    (folder / "test_batch.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="3073"):
        load_cifar10(tmp_path, split="test")


# ----------------------------------------------------------------------------- image folders
COLOURS = {"a.png": (255, 0, 0), "b.png": (0, 255, 0), "c.png": (0, 0, 255), "d.png": (51, 102, 204)}
LABELS = {"a.png": 2, "b.png": 0, "c.png": 1, "d.png": 2}
COLOUR_IDS = {"a.png": 10, "b.png": 11, "c.png": 12, "d.png": 13}


def _write_folder(folder, csv_rows=None, size=6):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for name in ["d.png", "b.png", "a.png", "c.png"]:  # written out of order on purpose
        Image.new("RGB", (size, size), COLOURS[name]).save(folder / name)
    if csv_rows is None:  # rows in yet another order
        csv_rows = ["filename,label,colour"] + [f"{n},{LABELS[n]},{COLOUR_IDS[n]}"
                                                for n in ["c.png", "a.png", "d.png", "b.png"]]
    if csv_rows:
        (folder / "attributes.csv").write_text("\n".join(csv_rows) + "\n")
    return folder


def test_load_image_folder_rgb(tmp_path):
    folder = _write_folder(tmp_path / "imgs")
    (folder / "notes.txt").write_text("not an image")
    ds = load_image_folder(folder, image_size=4)
    names = ["a.png", "b.png", "c.png", "d.png"]
    assert ds.images.shape == (4, 3, 4, 4)
    assert ds.images.dtype == torch.float32
    assert ds.name == "imgs"
    for i, n in enumerate(names):
        expected = torch.tensor(COLOURS[n], dtype=torch.float32) / 255 * 2 - 1
        assert torch.allclose(ds.images[i], expected.view(3, 1, 1).expand(3, 4, 4), atol=1e-6), n
    assert ds.labels.tolist() == [LABELS[n] for n in names]
    assert ds.labels.dtype == np.int64
    assert set(ds.attributes) == {"colour"}
    assert ds.attributes["colour"].dtype == np.int64
    assert ds.attributes["colour"].tolist() == [COLOUR_IDS[n] for n in names]


def test_load_image_folder_grayscale_and_no_csv(tmp_path):
    from PIL import Image

    folder = _write_folder(tmp_path / "imgs", csv_rows=[])
    ds = load_image_folder(folder, image_size=4, grayscale=True)
    assert ds.images.shape == (4, 1, 4, 4)
    assert ds.labels is None and ds.attributes == {}
    for i, n in enumerate(["a.png", "b.png", "c.png", "d.png"]):
        grey = Image.new("RGB", (1, 1), COLOURS[n]).convert("L").getpixel((0, 0))
        assert torch.allclose(ds.images[i], torch.full((1, 4, 4), grey / 255 * 2 - 1), atol=1e-6)


def test_load_image_folder_string_and_float_attributes(tmp_path):
    rows = ["filename,label,weight,group"] + [f"{n},{LABELS[n]},{i + 0.5},g{i}"
                                             for i, n in enumerate(sorted(COLOURS))]
    ds = load_image_folder(_write_folder(tmp_path / "imgs", rows), image_size=4)
    assert ds.attributes["weight"].dtype == np.float64
    assert ds.attributes["weight"].tolist() == [0.5, 1.5, 2.5, 3.5]
    assert ds.attributes["group"].tolist() == ["g0", "g1", "g2", "g3"]


def test_load_image_folder_csv_missing_row(tmp_path):
    rows = ["filename,label,colour"] + [f"{n},{LABELS[n]},{COLOUR_IDS[n]}" for n in ["a.png", "b.png", "d.png"]]
    folder = _write_folder(tmp_path / "imgs", rows)
    with pytest.raises(ValueError, match="c.png"):
        load_image_folder(folder, image_size=4)


def test_load_image_folder_csv_without_filename_column(tmp_path):
    rows = ["name,label"] + [f"{n},{LABELS[n]}" for n in sorted(COLOURS)]
    folder = _write_folder(tmp_path / "imgs", rows)
    with pytest.raises(ValueError, match="filename"):
        load_image_folder(folder, image_size=4)


def test_load_image_folder_missing_and_empty(tmp_path):
    with pytest.raises(DataNotFoundError) as exc:
        load_image_folder(tmp_path / "absent", image_size=4)
    assert str(tmp_path / "absent") in str(exc.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "attributes.csv").write_text("filename,label\n")
    with pytest.raises(DataNotFoundError) as exc:
        load_image_folder(empty, image_size=4)
    assert str(empty) in str(exc.value)


def test_load_image_folder_relative_path_under_data(tmp_path, monkeypatch):
    monkeypatch.setenv("MIALIB_ROOT", str(tmp_path))
    _write_folder(tmp_path / "data" / "faces")
    ds = load_image_folder("faces", image_size=4)
    assert ds.images.shape == (4, 3, 4, 4) and ds.labels.tolist() == [2, 0, 1, 2]
    via_dataset = load_dataset("folder:faces", 4)
    assert torch.equal(via_dataset.images, ds.images)
    with pytest.raises(DataNotFoundError) as exc:
        load_image_folder("nothere", image_size=4)
    assert str(tmp_path / "data" / "nothere") in str(exc.value)


# ----------------------------------------------------------------------------- load_dataset
def test_load_dataset(digits):
    with pytest.raises(ValueError, match="nope"):
        load_dataset("nope", 8)
    ds = load_dataset("digits", 8)
    assert torch.equal(ds.images, digits.images)
    assert load_dataset("digits", 16).images.shape == (1797, 1, 16, 16)


def test_load_image_folder_csv_short_row_is_a_clear_error(tmp_path):
    from PIL import Image

    folder = tmp_path / "short"
    folder.mkdir()
    Image.new("RGB", (4, 4), (10, 20, 30)).save(folder / "a.png")
    (folder / "attributes.csv").write_text("filename,label,colour\na.png,1\n")
    with pytest.raises(ValueError, match="fewer fields"):
        load_image_folder(folder, 4)


# ----------------------------------------------------------------------------- bad files name themselves
@pytest.mark.parametrize("content, match", [
    (b"", "unreadable pickle"), (b"this is not a pickle at all", "unreadable pickle"),
    (pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}), "N x 3072"),
    (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}), "one label each"),
    (pickle.dumps({b"data": np.full((1, 3072), 300, np.int64), b"labels": [0]}), r"integers in 0\.\.255"),
    (pickle.dumps({b"data": np.full((1, 3072), -1, np.int64), b"labels": [0]}), r"integers in 0\.\.255"),
    (pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": ["cat"]}), "labels must be integers"),
])
def test_a_bad_cifar_python_batch_is_named_with_what_is_wrong(tmp_path, content, match):
    folder = _write_python_cifar(tmp_path)
    (folder / "data_batch_3").write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(tmp_path, split="train")
    assert "data_batch_3" in str(info.value)


def test_a_non_image_file_in_a_folder_is_named(tmp_path):
    folder = _write_folder(tmp_path / "imgs")
    (folder / "e.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"e\.png: not a readable image"):
        load_image_folder(folder, image_size=4, attributes_csv=None)


@pytest.mark.parametrize("rows, match", [
    (["filename,label"] + [f"{n},{LABELS[n]}" for n in sorted(COLOURS)] + ["a.png,1"], "more than one row, e.g. 'a.png'"),
    (["filename,label"] + [f"{n},cat" for n in sorted(COLOURS)], "label column must hold integers, got 'cat'"),
    (["filename,label"] + [f"{n},1.5" for n in sorted(COLOURS)], "label column must hold integers, got '1.5'"),
    # the first value int() refuses is named: '+3' is an integer, '²' is a digit int() refuses
    (["filename,label"] + [f"{n},{'+3' if i == 0 else 'x'}" for i, n in enumerate(sorted(COLOURS))],
     "label column must hold integers, got 'x'"),
    (["filename,label"] + [f"{n},\u00b2" for n in sorted(COLOURS)], "label column must hold integers, got '\u00b2'"),
])
def test_bad_attribute_csvs_are_refused(tmp_path, rows, match):
    with pytest.raises(ValueError, match=match):
        load_image_folder(_write_folder(tmp_path / "imgs", rows), image_size=4)


def test_pixels_out_of_range_are_an_error_not_a_wrap():
    from mialib.data import to_unit_range
    torch.testing.assert_close(to_unit_range(np.array([0, 255]), 255.0), torch.tensor([-1.0, 1.0]))
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        to_unit_range(np.array([0, 256]), 255.0)
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        to_unit_range(np.array([-1, 3]), 255.0)


@pytest.mark.parametrize("size", [0, -8, 8.0, "8"])
def test_bad_image_sizes_are_named(size):
    with pytest.raises(ValueError, match="image_size"):
        load_digits(size)


def test_subset_refuses_negative_and_out_of_range_indices(digits):
    assert len(subset(digits, [0, 5, 1796])) == 3
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 1796\]"):
        subset(digits, [-1])
    with pytest.raises(ValueError, match=r"indices must lie in"):
        subset(digits, [1797])
    with pytest.raises(ValueError, match="integers"):
        subset(digits, [0.5])
