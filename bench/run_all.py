"""Run every bench/bench_*.py in its own process and write bench/report.md.

Usage: python bench/run_all.py [NAME ...]   (names without the bench_ prefix; default: all)
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in argv]
    sections, failed = [], 0
    for script in scripts:
        print(f"== {script.name}", flush=True)
        start = time.perf_counter()
        env = {**os.environ, "PYTHONPATH": str(HERE.parent), "TF_CPP_MIN_LOG_LEVEL": "2"}
        proc = subprocess.run(
            [sys.executable, str(script)], cwd=HERE.parent, env=env, capture_output=True, text=True
        )
        took = time.perf_counter() - start
        print(proc.stdout, end="")
        if proc.returncode:
            failed += 1
            print(proc.stderr[-3000:], file=sys.stderr)
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        sections.append(
            f"## {script.stem}\n\n{status}, {took:.1f} s\n\n```\n{proc.stdout.strip()}\n```\n"
        )
    header = (
        f"# Benchmark report\n\n{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.node()}, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}\n\n"
    )
    (HERE / "report.md").write_text(header + "\n".join(sections))
    print(f"report: {HERE / 'report.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
