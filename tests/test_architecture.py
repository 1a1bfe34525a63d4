"""The package's shape, checked: the architecture contract (layers, no cycles, no Streamlit in
the core), few plain modules at the top, a docstring per subpackage, ruff, the type checker,
and an installable package whose dependencies agree with the pinned requirements."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "fmnist_core"
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(
            f"{name} is not installed next to {sys.executable}: pip install -r requirements-dev.txt"
        )
    return str(path)


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_tool("lint-imports"), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(cwd), "PATH": str(BIN)},
    )


def test_the_architecture_contract_is_kept():
    out = _lint_imports(ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "3 kept, 0 broken" in out.stdout


@pytest.mark.parametrize(
    ("module", "added", "broken"),
    [
        # a low layer reaching up: the dataset code importing training
        ("data/gallery.py", "import fmnist_core.training.run", "Dependencies point one way"),
        # a cycle inside one package: the artifact format asking which version a name means
        ("versions/artifact.py", "import fmnist_core.versions.history", "No import cycle"),
        # the core importing Streamlit
        ("analysis/results.py", "import streamlit", "Only fmnist_core.ui imports Streamlit"),
    ],
)
def test_the_contract_catches_a_violation(tmp_path, module, added, broken):
    """The same contract on a copy of the package with one import added: it must fail."""
    shutil.copytree(PACKAGE, tmp_path / "fmnist_core", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "fmnist_core" / module
    target.write_text(target.read_text() + f"\n{added}  # noqa\n")
    out = _lint_imports(tmp_path)
    assert out.returncode != 0
    assert re.search(re.escape(broken) + r".*BROKEN", out.stdout, re.S), out.stdout[-3000:]


def test_few_plain_modules_at_the_top_and_every_subpackage_says_what_lives_there():
    plain = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(plain) <= 12, plain
    packages = [p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()]
    assert len(packages) >= 8
    for package in packages:
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
        assert doc and len(doc) > 40, (
            f"{package.name}/__init__.py needs a docstring saying what lives there"
        )
        for module in package.glob("*.py"):
            if module.name != "__init__.py":
                assert ast.get_docstring(ast.parse(module.read_text())), (
                    f"{module} has no docstring"
                )


def test_imports_sit_at_the_top_except_heavy_libraries_with_a_reason():
    """A function-level import only for a heavy library (TensorFlow, numba, scipy, sklearn...),
    with a comment on the line or the line above saying why."""
    offenders = []
    for path in sorted([*PACKAGE.rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"]):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and node.col_offset > 0:
                here, above = lines[node.lineno - 1], lines[node.lineno - 2]
                if "#" not in here and not above.strip().startswith("#"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {here.strip()}")
    assert not offenders, "\n".join(offenders)


def test_the_command_line_starts_without_tensorflow():
    """The CLI's lazy imports are there for this: `list`, `data` and `--help` answer at once."""
    code = "import sys, fmnist_core.cli; print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_ruff_lints_and_formats_clean():
    lint = subprocess.run(
        [_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert lint.returncode == 0, lint.stdout[-3000:]
    fmt = subprocess.run(
        [_tool("ruff"), "format", "--check", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fmt.returncode == 0, fmt.stdout[-3000:]


@pytest.mark.slow
def test_the_type_checker_passes_on_the_package():
    out = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-4000:]
    assert "Success: no issues found" in out.stdout


def test_the_package_declares_the_pinned_requirements():
    """pyproject.toml's dependencies are requirements.txt's packages, and each pin satisfies
    its range: installing the package and installing the pins give the same environment."""
    declared = {
        Requirement(r).name.lower(): Requirement(r)
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    pinned = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            pinned[req.name.lower()] = req
    assert set(declared) == set(pinned)
    for name, req in pinned.items():
        version = next(iter(req.specifier)).version
        assert declared[name].specifier.contains(version), f"{name}=={version} vs {declared[name]}"
        assert declared[name].extras == req.extras, name
    assert "-e ." in (ROOT / "requirements.txt").read_text().splitlines()
