"""What the audit accepts, and what it refuses with a message: image folders of any size (resized
and centre-cropped by the stated rule), arrays, labels and captions CSVs, the split's minimum,
and model folders (pipelines, a bare UNet with its scheduler, pickled or half-precision
weights, a class-conditional UNet, a Stable Diffusion pipeline with captions)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import logged_messages, tiny_pipeline
from mialib.audit.errors import AuditError
from mialib.audit.inputs import MIN_EVALUATION, build_split, read_images, read_table, with_conditioning
from mialib.audit.model import load_audited_model
from mialib.audit.run import run_audit
from mialib.data.loaders import load_digits
from mialib.diffusion.models import ModelConfig, build_scheduler, build_unet

TINY = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4)
FAST = dict(n_boot=20, progress=False)


def _png(path, array, mode):
    Image.fromarray(array.astype(np.uint8), mode).save(path)
    return path


def test_images_of_another_size_are_resized_on_the_shorter_side_and_centre_cropped(tmp_path):
    # a 12 x 24 (h x w) grey picture: left third black, middle third white, right third black
    arr = np.zeros((12, 24), dtype=np.uint8)
    arr[:, 8:16] = 255
    _png(tmp_path / "wide.png", arr, "L")
    _png(tmp_path / "small.png", np.full((8, 8), 255), "L")
    src = read_images(tmp_path, (1, 8, 8), "--members")
    assert src.names == ["small.png", "wide.png"] and src.resized == 1
    wide = src.images[1, 0]
    # shorter side 12 -> 8 (scale 2/3: width 16), then the centre 8 columns: the white band's middle
    assert wide.shape == (8, 8) and wide[:, 2:6].min() > 0.9 and src.images[0].min() == 1.0
    rgb = read_images(tmp_path, (3, 8, 8), "--members")  # grey files for a colour model: RGB
    assert rgb.images.shape == (2, 3, 8, 8) and torch.equal(rgb.images[:, 0], rgb.images[:, 2])


def test_arrays_and_tensors_are_taken_as_they_are_and_checked(tmp_path):
    x = load_digits().images[:5].numpy()
    np.save(tmp_path / "a.npy", x)
    np.savez(tmp_path / "b.npz", images=x, other=x)
    for name in ("a.npy", "b.npz"):
        src = read_images(tmp_path / name, (1, 8, 8), "--members")
        assert np.array_equal(src.images.numpy(), x) and src.names == ["0", "1", "2", "3", "4"]
    np.savez(tmp_path / "c.npz", one=x, two=x)
    np.save(tmp_path / "big.npy", x * 255)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    for name, says in [("c.npz", "name the images 'images'"), ("big.npy", r"in \[-1, 1\]"),
                       ("obj.npy", "without pickles"), ("a.npy", r"\[N, 3, 8, 8\]")]:
        with pytest.raises(AuditError, match=says):
            read_images(tmp_path / name, (3, 8, 8) if name == "a.npy" else (1, 8, 8), "--members")


@pytest.mark.parametrize("make, says", [
    (lambda d: None, "no folder or array"),
    (lambda d: d.mkdir(), "holds no images"),
    (lambda d: (d.mkdir(), (d / "x.txt").write_text("hi")), "holds no images"),
    (lambda d: (d.mkdir(), (d / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)), "cut.png: not a readable image"),
])
def test_missing_empty_and_broken_folders_are_named(tmp_path, make, says):
    make(tmp_path / "imgs")
    with pytest.raises(AuditError, match=says):
        read_images(tmp_path / "imgs", (1, 8, 8), "--members")


def test_a_truncated_image_is_named(tmp_path):
    buf = tmp_path / "full.png"
    _png(buf, np.random.default_rng(0).integers(0, 255, (64, 64, 3)), "RGB")
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "half.png").write_bytes(buf.read_bytes()[:200])
    with pytest.raises(AuditError, match="half.png: not a readable image"):
        read_images(tmp_path / "imgs", (3, 8, 8), "--members")


def test_a_model_of_other_channels_refuses_image_files(tmp_path):
    (tmp_path / "imgs").mkdir()
    _png(tmp_path / "imgs" / "a.png", np.zeros((8, 8)), "L")
    with pytest.raises(AuditError, match="4-channel images"):
        read_images(tmp_path / "imgs", (4, 8, 8), "--members")


def test_tables_need_a_row_for_every_image_and_no_stray_rows(tmp_path):
    (tmp_path / "t.csv").write_text("filename,caption\na.png,a red digit one\nb.png,a blue digit two\n")
    assert read_table(tmp_path / "t.csv", "caption", ["b.png", "a.png"], "--captions") == ["a blue digit two", "a red digit one"]
    with pytest.raises(AuditError, match="no row for 1 image"):
        read_table(tmp_path / "t.csv", "caption", ["a.png", "c.png"], "--captions")
    with pytest.raises(AuditError, match="columns filename,label"):
        read_table(tmp_path / "t.csv", "label", ["a.png"], "--class-labels")
    from mialib.audit.inputs import ImageSource
    src = ImageSource(torch.zeros(1, 1, 8, 8), ["a.png"], "x")
    with pytest.raises(AuditError, match="name images in none of the folders, e.g. 'b.png'"):
        with_conditioning([src], tmp_path / "t.csv", "text")
    (tmp_path / "l.csv").write_text("filename,label\na.png,7\n")
    with pytest.raises(AuditError, match=r"integers in \[0, 1\]"):
        with_conditioning([src], tmp_path / "l.csv", "class", num_classes=2)


def test_the_split_holds_out_calibration_and_refuses_too_few_images():
    from mialib.audit.inputs import ImageSource
    x = load_digits().images

    def src(n):
        return ImageSource(x[:n], [f"{i}" for i in range(n)], "x")
    s = build_split(src(50), src(40), calibration=0.2, seed=3)
    assert (len(s.members), len(s.nonmembers), len(s.cal_members), len(s.cal_nonmembers)) == (40, 32, 10, 8)
    assert sorted(s.names["members"] + s.names["cal_members"], key=int) == [str(i) for i in range(50)]
    assert s.fingerprint() == build_split(src(50), src(40), calibration=0.2, seed=3).fingerprint()
    assert s.fingerprint() != build_split(src(50), src(40), calibration=0.2, seed=4).fingerprint()
    none = build_split(src(50), src(40), calibration=0.0)
    assert not none.calibrated and len(none.members) == 50
    capped = build_split(src(50), src(40), calibration=0.2, max_images=30)
    assert len(capped.members) + len(capped.cal_members) == 30
    with pytest.raises(AuditError, match=f"at least {MIN_EVALUATION}"):
        build_split(src(50), src(20), calibration=0.2)
    with pytest.raises(AuditError, match="in \\[0, 1\\)"):
        build_split(src(50), src(40), calibration=1.0)


def _save_pipeline(folder, unet, scheduler):
    from diffusers import DDPMPipeline
    DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(folder)
    return folder


def test_model_folders_of_every_layout_and_what_is_refused(tmp_path):
    torch.manual_seed(0)
    unet = build_unet(TINY)
    pipe = _save_pipeline(tmp_path / "pipe", unet, build_scheduler())
    m = load_audited_model(pipe)
    assert m.image_shape == (1, 8, 8) and m.conditioning is None and m.prediction_type == "epsilon" and not m.notices
    bare = load_audited_model(pipe / "unet", scheduler=pipe / "scheduler")  # a bare UNet with its scheduler
    x = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(bare.target.eps(x, 10), m.target.eps(x, 10))
    with pytest.raises(AuditError, match="bare model folder \\(UNet2DModel\\): pass the folder of its scheduler"):
        load_audited_model(pipe / "unet")
    with pytest.raises(AuditError, match="no scheduler in"):
        load_audited_model(pipe / "unet", scheduler=tmp_path)
    # half-precision weights are cast to fp32, with a notice
    unet.half().save_pretrained(tmp_path / "half")
    half = load_audited_model(tmp_path / "half", scheduler=pipe / "scheduler")
    assert "F16" in half.notices[0] and "cast to fp32" in half.notices[0]
    # pickled weights are never loaded
    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "config.json").write_text((pipe / "unet" / "config.json").read_text())
    (tmp_path / "pickled" / "diffusion_pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(AuditError, match="only pickled weights \\(diffusion_pytorch_model.bin\\)"):
        load_audited_model(tmp_path / "pickled", scheduler=pipe / "scheduler")
    with pytest.raises(AuditError, match="found nothing"):
        (tmp_path / "void").mkdir()
        load_audited_model(tmp_path / "void")


def test_a_class_conditional_unet_is_audited_with_its_labels(tmp_path):
    from dataclasses import replace
    torch.manual_seed(0)
    pipe = _save_pipeline(tmp_path / "cond", build_unet(replace(TINY, num_classes=10)), build_scheduler())
    digits = load_digits()
    folders = {}
    rows = ["filename,label"]
    for name, sl in (("members", slice(0, 30)), ("nonmembers", slice(30, 60))):
        (tmp_path / name).mkdir()
        for i in range(sl.start, sl.stop):
            _png(tmp_path / name / f"{i}.png", (digits.images[i, 0].numpy() + 1) * 127.5, "L")
            rows.append(f"{i}.png,{digits.labels[i]}")
        folders[name] = tmp_path / name
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(AuditError, match="class-conditional: pass --class-labels"):
        run_audit(pipe, folders["members"], folders["nonmembers"], attacks=["naive_loss"], **FAST)
    result = run_audit(pipe, folders["members"], folders["nonmembers"], class_labels=tmp_path / "labels.csv",
                       attacks=["naive_loss", "secmi_stat"], **FAST)
    assert result.results["model"]["conditioning"] == "class"
    assert result.split.cond["members"].tolist() == [int(digits.labels[int(n[:-4])]) for n in result.split.names["members"]]


def test_a_stable_diffusion_pipeline_is_audited_with_captions(tmp_path):
    pipe, _, captions = tiny_pipeline(tmp_path / "tok")
    pipe.save_pretrained(tmp_path / "sd")
    rng = np.random.default_rng(0)
    rows = ["filename,caption"]
    for name in ("members", "nonmembers"):
        (tmp_path / name).mkdir()
        for i in range(25):
            _png(tmp_path / name / f"{name[0]}{i}.png", rng.integers(0, 255, (8, 8, 3)), "RGB")
            rows.append(f"{name[0]}{i}.png,{captions[i % len(captions)]}")
    (tmp_path / "captions.csv").write_text("\n".join(rows) + "\n")
    result = run_audit(tmp_path / "sd", tmp_path / "members", tmp_path / "nonmembers", captions=tmp_path / "captions.csv",
                       attacks=["naive_loss", "pia_proximal"], **FAST)
    assert result.results["model"]["conditioning"] == "text" and "StableDiffusionPipeline" in result.results["model"]["description"]
    assert all(0.0 <= r["auc"] <= 1.0 for r in result.results["attacks"].values())
    assert set(result.split.cond["members"]) <= set(captions)
    with pytest.raises(AuditError, match="text-conditioned: pass --captions"):
        run_audit(tmp_path / "sd", tmp_path / "members", tmp_path / "nonmembers", attacks=["naive_loss"], **FAST)


def test_a_half_precision_pipeline_is_cast_with_one_notice_and_no_library_noise(tmp_path):
    pipe, _, _ = tiny_pipeline(tmp_path / "tok")
    pipe.to(torch.float16).save_pretrained(tmp_path / "sd16")
    with logged_messages("diffusers.models.modeling_utils") as seen:
        m = load_audited_model(tmp_path / "sd16")
    assert any("cast to fp32" in n for n in m.notices)
    assert not [s for s in seen if "kept in float32" in s], seen  # diffusers' empty notice, once per part before
