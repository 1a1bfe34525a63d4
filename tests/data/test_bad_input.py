"""Whatever a class uploads: a correct answer or one clear sentence, and bounded memory."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fmnist_core.data.preprocess import PreprocessError, preprocess

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def boot(real_dataset):
    """Test image 0, an ankle boot, as a dark item on white at 140x140."""
    return Image.fromarray(255 - real_dataset.x_test[0]).resize((140, 140))


def _bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_bomb(side: int = 30_000) -> bytes:
    """A valid PNG header claiming side x side pixels, with a tiny compressed body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    ihdr = side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])  # 1-bit grayscale
    row = b"\x00" + b"\x00" * (side // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(200)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def _close_to(result, real_dataset, index=0) -> float:
    return float(
        np.corrcoef(
            result.image.ravel().astype(float), real_dataset.x_test[index].ravel().astype(float)
        )[0, 1]
    )


@pytest.mark.parametrize(
    "name, make, message",
    [
        ("zero bytes", lambda b: b"", "empty"),
        ("random bytes", lambda b: np.random.default_rng(0).bytes(5000), "not an image"),
        ("text renamed .png", lambda b: b"Dear teacher, here is my homework", "not an image"),
        ("truncated PNG", lambda b: _bytes(b, "PNG")[:300], "damaged"),
        ("truncated JPEG", lambda b: _bytes(b.convert("RGB"), "JPEG")[:600], "damaged"),
        (
            "SVG",
            lambda b: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>',
            "SVG",
        ),
        ("decompression bomb", lambda b: _png_bomb(), "too large"),
    ],
)
def test_bad_files_get_one_clear_sentence(boot, name, make, message):
    data = make(boot)
    with pytest.raises(PreprocessError, match=message) as e:
        preprocess(data)
    text = str(e.value)
    assert "Traceback" not in text and len(text) < 300


def test_the_bomb_is_small_on_disk():
    assert len(_png_bomb()) < 50_000


@pytest.mark.parametrize(
    "name, make",
    [
        ("animated GIF", lambda b: _bytes(b.convert("P"), "GIF", save_all=True,
                                          append_images=[b.rotate(90).convert("P")], duration=50)),
        ("16-bit PNG", lambda b: _bytes(Image.fromarray(np.asarray(b, np.uint16) * 257), "PNG")),
        ("CMYK JPEG", lambda b: _bytes(b.convert("CMYK"), "JPEG", quality=95)),
        ("palette PNG with transparency", lambda b: _bytes(b.convert("P"), "PNG", transparency=255)),
        ("RGBA PNG", lambda b: _bytes(b.convert("RGBA"), "PNG")),
        ("grayscale TIFF", lambda b: _bytes(b, "TIFF")),
    ],
)  # fmt: skip
def test_odd_but_valid_images_are_classified(boot, real_dataset, name, make):
    result = preprocess(make(boot))
    assert result.image.shape == (28, 28)
    assert _close_to(result, real_dataset) > 0.85, name


def test_exif_rotated_jpeg_comes_upright(boot, real_dataset):
    exif = Image.Exif()
    exif[0x0112] = 8  # "rotate 90 counter-clockwise to display"
    stored = boot.convert("RGB").transpose(Image.Transpose.ROTATE_270)
    result = preprocess(_bytes(stored, "JPEG", exif=exif, quality=95))
    assert _close_to(result, real_dataset) > 0.85


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=4000))
def test_random_bytes_give_a_result_or_our_error(data):
    try:
        result = preprocess(data)
    except PreprocessError:
        return
    assert result.image.shape == (28, 28) and result.image.dtype == np.uint8


def _seed_images():
    rng = np.random.default_rng(1)
    img = Image.fromarray(rng.integers(0, 255, (40, 40), dtype=np.uint8))
    return [_bytes(img, "PNG"), _bytes(img.convert("RGB"), "JPEG"), _bytes(img, "GIF"),
            _bytes(img, "BMP"), _bytes(img.convert("RGB"), "WEBP"), _bytes(img, "TIFF")]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(_seed_images()),
    cuts=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=12),
    truncate=st.one_of(st.none(), st.integers(1, 10_000)),
)
def test_mutated_images_give_a_result_or_our_error(seed, cuts, truncate):
    data = bytearray(seed)
    for pos, value in cuts:
        data[pos % len(data)] = value
    if truncate is not None:
        data = data[: truncate % len(data) + 1]
    try:
        result = preprocess(bytes(data))
    except PreprocessError:
        return
    assert result.image.shape == (28, 28)


@pytest.mark.slow
def test_cli_reports_each_bad_file_and_predicts_the_good_ones(boot, tmp_path):
    files = {
        "empty.png": b"",
        "notes.png": b"not a picture",
        "bomb.png": _png_bomb(),
        "boot.jpg": _bytes(boot.convert("RGB"), "JPEG"),
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    out = subprocess.run([sys.executable, "-m", "fmnist_core", "predict", "--json", "--model", "strided3", *paths],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 1
    results = {Path(r["image"]).name: r for r in json.loads(out.stdout)}
    assert "empty" in results["empty.png"]["error"]
    assert "not an image" in results["notes.png"]["error"]
    assert "too large" in results["bomb.png"]["error"]
    assert results["boot.jpg"]["models"]["strided3"]["class"] == "Ankle boot"


@pytest.mark.browser
def test_bad_uploads_in_a_real_browser_leave_the_page_usable(streamlit_url, page, boot, tmp_path):
    files = {
        "notes.png": b"not a picture",
        "bomb.png": _png_bomb(),
        "boot.png": _bytes(boot, "PNG"),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    page.goto(streamlit_url + "/predict", wait_until="domcontentloaded")
    page.get_by_role("radio", name="Upload").click()
    page.locator("input[type='file']").set_input_files([str(tmp_path / n) for n in files])
    page.get_by_text("notes.png: This is not an image we can read").wait_for(timeout=90_000)
    page.get_by_text("bomb.png: The image is too large").wait_for(timeout=30_000)
    page.get_by_role("heading", name="boot.png").wait_for(timeout=30_000)
    page.get_by_text("The robust model says Ankle boot").first.wait_for(timeout=60_000)
    assert page.locator("[data-testid='stException']").count() == 0
    # over the upload limit (.streamlit/config.toml: 10 MB): refused with a message, nothing sent
    big = tmp_path / "huge.png"
    big.write_bytes(b"\x89PNG" + os.urandom(11 * 1024 * 1024))
    page.locator("input[type='file']").set_input_files([str(big)])
    page.get_by_text("or smaller").first.wait_for(
        timeout=30_000
    )  # "File must be 10.0MB or smaller."
    page.get_by_role("radio", name="Test image").click()  # and the page goes on working
    page.get_by_text("The true class is").wait_for(timeout=60_000)
