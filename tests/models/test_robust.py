"""The robust model and its augmentation: picture styles on real images, under both backends."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fmnist_core.data.augment import (
    STYLE_SHARES,
    PictureStyles,
    fill_holes,
    style_shares,
    styled_examples,
)
from fmnist_core.errors import FmnistError
from fmnist_core.models import get_spec
from fmnist_core.training import engine
from fmnist_core.training.run import TrainOptions, TrainOptionsError, run_training

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def batch(real_dataset):
    return real_dataset.x_train[:256].reshape(-1, 28, 28, 1).astype(np.float32)


def test_picture_styles_repeat_per_seed_and_differ_between_seeds(batch):
    a = np.asarray(PictureStyles(seed=5)(batch, training=True))
    b = np.asarray(PictureStyles(seed=5)(batch, training=True))
    c = np.asarray(PictureStyles(seed=6)(batch, training=True))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert a.shape == batch.shape and a.min() >= 0 and a.max() <= 255
    # inference leaves the images alone
    np.testing.assert_array_equal(np.asarray(PictureStyles(seed=5)(batch, training=False)), batch)


def test_the_share_of_photos_is_a_setting_and_the_drawn_styles_fill_the_rest(batch):
    shares = style_shares(0.25)
    assert shares["photo"] == 0.25 and sum(shares.values()) == pytest.approx(1.0)
    assert shares["outline"] / shares["silhouette"] == pytest.approx(
        STYLE_SHARES["outline"] / STYLE_SHARES["silhouette"]
    )
    with pytest.raises(ValueError, match="share of photos"):
        style_shares(1.0)

    def outline_rate(photo_share):
        out = np.asarray(PictureStyles(seed=1, photo_share=photo_share)(batch, training=True))
        lit, original_lit = out[..., 0] > 12, batch[..., 0] > 12
        return np.mean(lit.mean(axis=(1, 2)) < 0.6 * original_lit.mean(axis=(1, 2)))

    # fewer photos, more outline drawings (256 real images, the same random draws)
    many, few = outline_rate(0.1), outline_rate(0.9)
    assert many > 2 * few and many > few + 0.1
    layer = PictureStyles(seed=3, photo_share=0.25)
    assert PictureStyles.from_config(layer.get_config()).shares == shares


def test_every_image_keeps_an_item_and_the_styles_are_all_there(batch):
    out = np.asarray(PictureStyles(seed=1)(batch, training=True))[..., 0]
    assert (out.max(axis=(1, 2)) > 40).all()  # nothing blanked out: the label still applies
    lit, original_lit = out > 12, batch[..., 0] > 12
    # outline drawings: far fewer lit pixels than the item had
    outlines = lit.mean(axis=(1, 2)) < 0.6 * original_lit.mean(axis=(1, 2))
    assert outlines.mean() > 0.5 * STYLE_SHARES["outline"]

    def flat_share(images, masks):
        """Share of an item's pixels at its most common brightness."""
        return np.array(
            [
                np.unique(np.round(i[m]), return_counts=True)[1].max() / m.sum()
                for i, m in zip(images, masks)
            ]  # fmt: skip
        )

    # flat silhouettes and posterised items: one brightness over much of the item
    assert (flat_share(batch[..., 0], original_lit) > 0.3).mean() < 0.02  # photos are shaded
    assert (flat_share(out, lit) > 0.3).mean() > 0.5 * STYLE_SHARES["silhouette"]
    # mirror images and turns: a good share of images moved far from the original
    corr = [np.corrcoef(o.ravel(), x.ravel())[0, 1] for o, x in zip(out, batch[..., 0])]
    assert np.mean(np.array(corr) < 0.5) > 0.2


def test_fill_holes_fills_a_closed_ring_and_not_an_open_one():
    ring = np.zeros((1, 28, 28, 1), np.float32)
    ring[0, 5:23, 5:23] = 1
    ring[0, 7:21, 7:21] = 0
    filled = np.asarray(fill_holes(ring))
    assert filled[0, 5:23, 5:23].min() == 1 and filled.sum() == 18 * 18
    opened = ring.copy()
    opened[0, 5:7, 12:15] = 0  # a gap in the top edge
    assert np.asarray(fill_holes(opened)).sum() == opened.sum()


@pytest.mark.parametrize("kind", ["styles", "clipart", "shapes"])
def test_styled_pipeline_keeps_every_label_with_its_image(real_dataset, kind):
    """The augmented phase's batches: same images in the same order, labels untouched."""
    x, y = real_dataset.x_train[:600], real_dataset.y_train[:600]
    plain = list(engine.make_dataset(x, y, 200, shuffle=True, seed=4).take(3))
    styled = list(engine.make_dataset(x, y, 200, shuffle=True, seed=4, augment=kind).take(3))
    for (px, py), (sx, sy) in zip(plain, styled):
        np.testing.assert_array_equal(py.numpy(), sy.numpy())
        assert not np.allclose(px.numpy(), sx.numpy())
    again = list(engine.make_dataset(x, y, 200, shuffle=True, seed=4, augment=kind).take(1))
    np.testing.assert_array_equal(styled[0][0].numpy(), again[0][0].numpy())
    numpy_batches = engine.ArrayBatches(
        x.reshape(-1, 28, 28, 1), y, 200, shuffle=True, seed=4, augment=kind
    )
    bx, by = numpy_batches[0]
    np.testing.assert_array_equal(by, y[numpy_batches.order[:200]])
    assert bx.shape == (200, 28, 28, 1) and bx.dtype == np.float32


def _item_extent(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image: the item's width, height and top row (pixels above 12)."""
    lit = images[..., 0] > 12 if images.ndim == 4 else images > 12
    cols, rows = lit.any(axis=1), lit.any(axis=2)
    width = 28 - cols.argmax(axis=1) - cols[:, ::-1].argmax(axis=1)
    height = 28 - rows.argmax(axis=1) - rows[:, ::-1].argmax(axis=1)
    return width, height, rows.argmax(axis=1)


def test_class_shapes_make_long_coats_and_bags_with_straps_and_leave_the_rest(real_dataset):
    """The "shapes" augmentation on real coats, bags and other items: a quarter of the coats
    made long (narrower, as tall or taller, a hem without sleeves at the bottom), a quarter of
    the bags smaller at the bottom with a strap rising above them to the top; every other item
    exactly as it was; the styles' own random numbers unchanged."""
    y_all = real_dataset.y_train
    idx = np.concatenate([np.flatnonzero(y_all == c)[:40] for c in (4, 8, 0, 5)])
    x, y = real_dataset.x_train[idx].reshape(-1, 28, 28, 1).astype(np.float32), y_all[idx]
    draws = np.random.default_rng(0).random((len(x), 40), dtype=np.float32)
    layer = PictureStyles(seed=0, class_shapes=True)
    assert layer.RANDOM_DRAWS == 40 and PictureStyles(seed=0).RANDOM_DRAWS == 32
    shaped = np.asarray(layer._class_shapes(x, y, draws[:, 32:]))
    np.testing.assert_array_equal(shaped, np.asarray(layer._class_shapes(x, y, draws[:, 32:])))
    changed = ~np.isclose(shaped, x).all(axis=(1, 2, 3))
    other = (y != 4) & (y != 8)
    assert not changed[other].any()  # a T-shirt or a sandal never changes shape
    for label in (4, 8):
        share = changed[y == label].mean()
        assert 0.1 < share < 0.45, (label, share)
    w0, h0, top0 = _item_extent(x)
    w1, h1, top1 = _item_extent(shaped)
    coats = changed & (y == 4)
    assert (w1[coats] < w0[coats]).all() and (h1[coats] >= h0[coats] - 1).all()
    lit = shaped[coats][..., 0] > 12  # the hem: the bottom row narrower than the widest row
    assert (lit[:, 27].sum(axis=1) < 0.8 * lit.sum(axis=2).max(axis=1)).all()
    assert lit[:, 27].any(axis=1).all()  # and the long coat reaches the bottom
    bags = changed & (y == 8)
    assert (top1[bags] <= 1).all() and (top0[bags] > 1).sum() >= 3  # a strap to the top
    body = shaped[bags][:, -6:, :, 0] > 12  # the bag itself, smaller: its rows are narrower
    assert (body.any(axis=1).sum(axis=1) < w0[bags]).all()
    # the whole layer: items of other classes come out exactly as without class shapes
    with_shapes = np.asarray(layer(x, training=True, randomness=draws, labels=y))
    without = np.asarray(PictureStyles(seed=0)(x, training=True, randomness=draws[:, :32]))
    np.testing.assert_allclose(with_shapes[other], without[other], atol=1e-3)
    assert not np.allclose(with_shapes[coats], without[coats])


def test_styled_examples_for_the_predict_page(real_dataset):
    out = styled_examples(real_dataset.x_train[:4], seed=3, copies=3)
    assert out.shape == (12, 28, 28) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, styled_examples(real_dataset.x_train[:4], seed=3, copies=3))


def test_unknown_augmentation_is_one_clear_message():
    with pytest.raises(Exception, match="unknown augmentation"):
        engine.make_augmenter(0, "sepia")


@pytest.mark.slow
def test_picture_styles_run_under_jax(real_dataset, tmp_path):
    """GPU machines train with KERAS_BACKEND=jax: the styles use keras.ops only."""
    pytest.importorskip("jax")
    np.save(tmp_path / "x.npy", real_dataset.x_train[:64])
    code = textwrap.dedent(f"""
        import numpy as np, keras
        from fmnist_core.data.augment import PictureStyles
        assert keras.backend.backend() == "jax"
        x = np.load({str(tmp_path / "x.npy")!r}).reshape(-1, 28, 28, 1).astype("float32")
        a = np.asarray(PictureStyles(seed=2)(x, training=True))
        b = np.asarray(PictureStyles(seed=2)(x, training=True))
        assert a.shape == x.shape and (a == b).all() and not np.allclose(a, x)
        labels = np.full(len(x), 8, "int32")  # every item taken for a bag: straps under JAX
        draws = np.random.default_rng(0).random((len(x), 40), dtype="float32")
        shapes = PictureStyles(seed=2, class_shapes=True)
        s = np.asarray(shapes(x, training=True, randomness=draws, labels=labels))
        assert s.shape == x.shape and np.isfinite(s).all()
        print("ok", float(a.mean()))
    """)
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]


@pytest.mark.slow
def test_robust_trains_one_epoch_on_2000_real_images_and_reloads_in_safe_mode(
    real_dataset, tmp_path
):
    opts = TrainOptions(augment_epochs=1, limit=2000, seed=1)
    # robust fine-tunes resnet's trained weights: without a resnet there is nothing to start from
    with pytest.raises(TrainOptionsError, match="train resnet into .* first"):
        run_training("robust", opts, root=tmp_path)
    resnet = run_training("resnet", opts, root=tmp_path)
    # a resnet that saw this run's validation images (another subset) is refused, before training
    with pytest.raises(TrainOptionsError, match="different subset"):
        run_training("robust", replace(opts, limit=3000), root=tmp_path)
    # starting weights of another architecture (other widths) are refused in one sentence
    with pytest.raises(FmnistError, match="do not fit robust's layers"):
        run_training("robust", replace(opts, widths=[8, 16, 32]), root=tmp_path)
    art = run_training("robust", opts, root=tmp_path)
    m = art.manifest
    assert m["n_train"] == 1600 and [h["phase"] for h in m["history"]] == ["augment"]
    start = m["initialised_from"]
    assert start["name"] == "resnet" and start["version"] == "shipped"
    assert start["sha256"] == resnet.manifest["files"]["model.keras"]["sha256"]
    # it starts from those weights: at learning rate 0 every trainable weight stays resnet's
    source = resnet.load_model()
    x, y = real_dataset.x_train[:256], real_dataset.y_train[:256]
    still = replace(get_spec("robust").recipe, learning_rate=0.0, augment_epochs=1)
    tuned = engine.fit(get_spec("robust"), x, y, None, None, still,
                       initial_weights=source.get_weights()).model  # fmt: skip
    assert len(tuned.trainable_weights) == len(source.trainable_weights)
    for a, b in zip(tuned.trainable_weights, source.trainable_weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert m["recipe"]["augmentation"] == "shapes" and m["reported_accuracy"] is None
    assert m["tutorial"] == get_spec("robust").tutorial == "Beyond the tutorials"
    code = textwrap.dedent(f"""
        import numpy as np, keras
        m = keras.models.load_model({str(art.path / "model.keras")!r}, safe_mode=True)
        x = np.load({str(tmp_path / "x.npy")!r}).astype("float32")
        np.save({str(tmp_path / "p.npy")!r}, np.asarray(m(x, training=False)))
    """)
    x = real_dataset.x_test[:50].reshape(-1, 28, 28, 1)
    np.save(tmp_path / "x.npy", x)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    np.testing.assert_allclose(
        np.load(tmp_path / "p.npy"), np.asarray(art.load_model()(x.astype("float32"))), atol=1e-5
    )


def test_clip_art_styles_repeat_per_seed_and_draw_cartoons_and_turned_views(batch):
    from fmnist_core.data.augment import CARTOON_SHARE_OF_DRAWN, clip_art_shares

    shares = clip_art_shares(0.25)
    assert shares["photo"] == 0.25 and sum(shares.values()) == pytest.approx(1.0)
    assert shares["cartoon"] == pytest.approx(0.75 * CARTOON_SHARE_OF_DRAWN)
    a = np.asarray(PictureStyles(seed=5, clip_art=True)(batch, training=True))
    b = np.asarray(PictureStyles(seed=5, clip_art=True)(batch, training=True))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, np.asarray(PictureStyles(seed=5)(batch, training=True)))
    assert a.shape == batch.shape and a.min() >= 0 and a.max() <= 255
    assert (a[..., 0].max(axis=(1, 2)) > 40).all()  # every item still there: its label holds
    layer = PictureStyles(seed=3, clip_art=True)
    assert PictureStyles.from_config(layer.get_config()).clip_art
    # only cartoons: bright lines around and inside the item, few shades within it
    cartoon = PictureStyles(seed=2, photo_share=0.0, clip_art=True)
    cartoon.shares = dict.fromkeys(cartoon.shares, 0.0) | {"cartoon": 1.0}
    flat = np.asarray(cartoon(batch[:64], training=True))[..., 0]
    lit = flat > 12
    assert (flat.max(axis=(1, 2)) >= 150).mean() > 0.9  # the lines
    shades = [len(np.unique(np.round(f[m] / 16))) for f, m in zip(flat, lit)]
    photos = [len(np.unique(np.round(x[x > 12] / 16))) for x in batch[:64, ..., 0]]
    assert np.median(shades) < np.median(photos)


def test_the_clip_art_proxy_set_is_made_the_same_way_every_time(real_dataset):
    from PIL import Image

    from fmnist_core.data.preprocess import decode_image, preprocess
    from fmnist_core.data.user_pictures import render_set

    x = real_dataset.x_test[:24]
    first, again = render_set("clipart", x, seed=1), render_set("clipart", x, seed=1)
    assert first == again
    assert render_set("clipart", x, seed=2) != first
    kinds = {Image.open(io.BytesIO(b)).format for b in first}
    assert kinds == {"PNG", "JPEG"}  # transparent PNGs and JPEGs on white
    for b in first:
        assert decode_image(b).size[0] >= 100
        prep = preprocess(b)
        assert prep.inverted and prep.image.max() > 100  # a light item on black, as trained
