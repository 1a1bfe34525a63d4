"""Data quality: the label-issue finder on real images with labels flipped on purpose, the
test set's suspects, near-duplicates, the shared decision store, the CLI and the page."""

from __future__ import annotations

import json
import multiprocessing as mp
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from fmnist_core.classroom import store
from fmnist_core.quality import label_issues as li
from fmnist_core.roles import MACHINE_OWNER, Actor

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_finder_puts_flipped_labels_first_on_a_real_subset(real_dataset, isolated_cache):
    """6,000 real training images, 1% of their labels flipped: the k-fold finder ranks the
    flipped ones at the top (the full 60,000-image check is bench/bench_label_issues.py)."""
    from fmnist_core.data.fashion_mnist import stratified_subset

    keep = stratified_subset(real_dataset.y_train, 6000, seed=1)
    x, y = real_dataset.x_train[keep], real_dataset.y_train[keep].astype(np.int64)
    noisy, flipped = li.flip_labels(y, 0.01, seed=2)
    assert len(flipped) == 60 and (noisy != y).sum() == 60
    request = li.FinderRequest("cnn1", folds=3, epochs=3)
    probs, cached = li.out_of_sample_probabilities(x, noisy, request, "subset")
    assert not cached and probs.shape == (6000, 10)
    suspects = li.rank_suspects(noisy, probs)
    assert li.hits_at(suspects, flipped, 60) >= 0.6
    # the suggested label of a caught flip is mostly its true class
    caught = np.isin(suspects.indices[:60], flipped)
    assert (suspects.suggested[:60][caught] == y[suspects.indices[:60][caught]]).mean() >= 0.8
    assert np.all(np.diff(suspects.scores) >= 0)  # ranked: least believed label first
    # the same request again comes from the cache
    again, cached = li.out_of_sample_probabilities(x, noisy, request, "subset")
    assert cached and np.allclose(again, probs, atol=1e-3)


@pytest.mark.slow
def test_bad_labels_are_refused_clearly(tmp_path):
    with pytest.raises(li.LabelIssueError, match="60,000 long"):
        li.check_labels(np.zeros(10, int))
    with pytest.raises(li.LabelIssueError, match="0-9"):
        li.check_labels(np.full(60_000, 12))
    bad = tmp_path / "labels.npy"
    bad.write_bytes(b"not numpy")
    with pytest.raises(li.LabelIssueError, match="Cannot read"):
        li.load_labels(bad)
    run = subprocess.run(
        [sys.executable, "-m", "fmnist_core", "label-issues", "--labels", str(bad)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2 and "Cannot read" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.slow
def test_label_issues_cli_uses_the_shipped_run(real_dataset):
    """The default run (original labels) ships in assets: the CLI answers at once, and its
    ranking is confident learning on those probabilities."""
    assert li.is_cached(real_dataset.y_train.astype(np.int64), li.FinderRequest(),
                        real_dataset.checksum)  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-m", "fmnist_core", "label-issues", "--json", "--top", "50"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert set(out) >= {"indices", "suggested", "scores"}
    suspects, probs, cached = li.training_suspects(real_dataset)
    assert cached
    assert out["indices"] == [int(i) for i in suspects.indices[:50]]
    assert out["suggested"] == [int(c) for c in probs[out["indices"]].argmax(axis=1)]
    assert all(s < 0.5 for s in out["scores"])
    # a suspect's given label differs from what the models believe
    assert np.mean(real_dataset.y_train[out["indices"]] != np.array(out["suggested"])) > 0.9


def test_test_set_suspects_from_the_shipped_models(real_dataset):
    from fmnist_core.versions import available_artifacts

    probs = [a.test_probabilities() for a in available_artifacts()[0]]
    suspects = li.test_suspects(real_dataset.y_test, probs)
    assert 10 < len(suspects) < 1000
    mean = np.mean(probs, axis=0)
    first = suspects.indices[0]
    assert mean[first].argmax() != real_dataset.y_test[first]


def test_near_duplicates_are_found(real_dataset):
    x_train = real_dataset.x_train[:5000]
    x_test = real_dataset.x_test[:300].copy()
    x_test[10] = x_train[42]  # an exact copy
    near = x_train[7].astype(np.int16)
    near[5:8, 5:8] += 20  # a few pixels changed
    x_test[20] = np.clip(near, 0, 255).astype(np.uint8)
    d = li.train_test_duplicates(x_train, x_test)
    found = dict(zip(d.test.tolist(), d.train.tolist()))
    assert found[10] == 42 and found[20] == 7
    assert d.exact[list(d.test).index(10)] and not d.exact[list(d.test).index(20)]
    assert d.distance.max() <= li.NEAR


def _write_decisions(args):
    cache, worker, count = args
    import os

    os.environ["FMNIST_CACHE_DIR"] = cache
    from fmnist_core.classroom import store as s

    for k in range(count):
        s.record_decision(
            "train", worker * 1000 + k, "keep", Actor(f"worker {worker}", "teacher", "w")
        )
    return count


def decision_count(split: str) -> int:
    """Rows in the decision store for `split`, history included."""
    table = store.label_decisions
    query = sa.select(sa.func.count()).select_from(table).where(table.c.split == split)
    with store.engine().connect() as conn:
        return int(conn.execute(query).scalar_one())


@pytest.mark.slow
def test_decisions_survive_concurrent_writers_and_restarts(database, tmp_path):
    cache = tmp_path / "cache"
    with mp.get_context("spawn").Pool(6) as pool:
        written = sum(pool.map(_write_decisions, [(str(cache), w, 40) for w in range(6)]))
    assert written == 240
    assert decision_count("train") == 240
    assert len(store.current_decisions("train")) == 240
    # the latest decision is the one in force; the history stays
    store.record_decision("train", 3, "relabel", Actor("Ann", "teacher", "a"), new_label=6)
    store.record_decision("train", 3, "ambiguous", Actor("**Bob**", "teacher", "b"))
    d = store.current_decisions("train")[3]
    assert d["decision"] == "ambiguous" and d["reviewer"] == "**Bob**"
    assert decision_count("train") == 242
    store._engine.cache_clear()  # a restarted server reads the same file
    assert store.current_decisions("train")[3]["decision"] == "ambiguous"
    csv_text = store.decisions_csv("train")
    assert csv_text.count("\n") == 1 + 240 and "ambiguous" in csv_text  # image 3 was decided before
    for bad in (dict(decision="maybe"), dict(decision="relabel"), dict(split="val")):
        kw = {"split": "train", "index": 1, "decision": "keep", "actor": MACHINE_OWNER, **bad}
        with pytest.raises(store.StoreError):
            store.record_decision(**kw)
    assert (cache / "explorer.db").is_file() == (database == "sqlite")


def test_data_quality_page_records_a_decision(real_dataset, isolated_cache):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.switch_page("pages/quality.py").run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    suspects, _, _ = li.training_suspects(real_dataset)
    assert f"**{len(suspects):,} suspect labels** among 60,000 training images" in text
    at.text_input(key="reviewer").input("<b>Ann</b>").run()
    first = int(suspects.indices[0])
    at.segmented_control(key=f"train_decision_{first}").set_value("relabel").run()
    assert not at.exception
    d = store.current_decisions("train")[first]
    assert d["decision"] == "relabel" and d["reviewer"] == "<b>Ann</b>"
    assert d["new_label"] == int(suspects.suggested[0])
    captions = " ".join(c.value for c in at.caption)
    assert r"by \<b\>Ann\</b\>" in captions  # shown as written, not as HTML
    # the filter narrows the grid to one class pair
    at.selectbox(key="train_given").set_value("Shirt").run()
    assert not at.exception


def test_images_zip_holds_the_images_and_their_table(real_dataset):
    import csv
    import io
    import zipfile

    from PIL import Image

    from fmnist_core.data.exports import images_zip

    idx = np.array([5, 17, 9999])
    pred = np.zeros(10_000, int)
    conf = np.full(10_000, 0.25)
    data = images_zip(idx, real_dataset.x_test, real_dataset.y_test, pred, conf)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        assert names == ["test-00005.png", "test-00017.png", "test-09999.png", "images.csv"]
        for name, i in zip(names, idx):
            img = np.asarray(Image.open(io.BytesIO(z.read(name))))
            np.testing.assert_array_equal(img, real_dataset.x_test[i])
        rows = list(csv.DictReader(io.StringIO(z.read("images.csv").decode())))
    from fmnist_core.classes import CLASS_NAMES

    assert [int(r["index"]) for r in rows] == idx.tolist()
    assert rows[0]["true_class"] == CLASS_NAMES[real_dataset.y_test[5]]
    assert rows[0]["predicted_class"] == CLASS_NAMES[0] and rows[0]["confidence"] == "0.2500"


def test_a_large_selection_is_sampled_across_its_classes():
    from fmnist_core.data.exports import sample_across_classes

    rows = np.arange(1425)
    classes = np.repeat([0, 3, 6, 9], [1000, 300, 100, 25])  # listed class by class
    order = sample_across_classes(rows, classes)
    assert sorted(order.tolist()) == rows.tolist()  # every row once
    first = classes[order[:80]]
    assert set(first) == {0, 3, 6, 9}  # the first page shows every class
    assert abs((first == 0).mean() - 1000 / 1425) < 0.1  # in proportion
