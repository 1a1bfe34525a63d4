"""A quiet command line: TensorFlow's and absl's start-up lines (CUDA probing, oneDNN notes,
"failed call to cuInit") stay off stderr, in <cache>/logs/native.log; the program's own
messages and real errors still show; `--verbose` shows everything."""

from __future__ import annotations

import json
import os

import pytest
from conftest import run_cli


def _plain_shell(cache) -> dict:
    """A user's environment: no TF_CPP_MIN_LOG_LEVEL (the tests' conftest sets one)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return {**env, "FMNIST_CACHE_DIR": str(cache)}


@pytest.mark.slow
def test_a_command_that_loads_tensorflow_prints_nothing_on_stderr(real_dataset, tmp_path):
    env = _plain_shell(tmp_path / "cache")
    out = run_cli("evaluate", "cnn1", "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert json.loads(out.stdout)["name"] == "cnn1"
    log = (tmp_path / "cache" / "logs" / "native.log").read_text()
    # what used to reach the terminal is kept in the log instead
    verbose = run_cli("--verbose", "evaluate", "cnn1", "--json", env=env)
    assert verbose.returncode == 0
    assert bool(log.strip()) == bool(verbose.stderr.strip())
    assert json.loads(verbose.stdout)["name"] == "cnn1"


def test_a_failure_still_says_what_went_wrong_on_stderr(real_dataset, tmp_path):
    out = run_cli("evaluate", "nosuchmodel", env=_plain_shell(tmp_path / "cache"))
    assert out.returncode == 2
    assert out.stderr.startswith("error: Unknown model 'nosuchmodel'"), out.stderr
    assert "I0000" not in out.stderr and "cuInit" not in out.stderr
