"""A throwaway PostgreSQL cluster in a folder, for the fault tests and the fault benchmark:
they stop the database in the middle of a quiz and start it again, which they must not do to
a database anyone else uses.

It uses Debian's PostgreSQL programs (`apt-get install postgresql`: initdb, pg_ctl) and
listens on 127.0.0.1 on a free port, with one role and one database, password `fmnist`.
PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user and its
programs run as that user (runuser).

    with local_postgres() as pg:       # started; pg.url is a SQLAlchemy URL
        pg.stop()                      # "fast" shutdown: connections are cut
        pg.start()
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class PostgresMissing(RuntimeError):
    """Debian's PostgreSQL programs (initdb, pg_ctl) are not installed."""


def bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb, or the folder on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version(path: str) -> float:
    try:
        return float(Path(path).parent.parent.name)
    except ValueError:
        return 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalPostgres:
    folder: Path
    port: int
    bin: Path
    as_user: str | None  # run the programs as this user (when this process is root)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://fmnist:fmnist@127.0.0.1:{self.port}/fmnist"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_user:
            cmd = ["runuser", "-u", self.as_user, "--", *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and out.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout}{out.stderr}")
        return out

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"),
                  "-w", "-t", "60", "-o", f"-p {self.port} -k {self.folder} -h 127.0.0.1",
                  "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server ("fast": open connections are cut, as in a restart; "immediate":
        as in a crash)."""
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (
            self._run("pg_ctl", "-D", str(self.folder / "data"), "status", check=False).returncode
            == 0
        )

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.folder / "log").read_text(errors="replace")
        return ""


@contextlib.contextmanager
def local_postgres() -> Iterator[LocalPostgres]:
    """A new cluster in a temporary folder, started, with role and database `fmnist`; stopped
    and deleted on leaving. PostgresMissing without Debian's PostgreSQL."""
    programs = bin_dir()
    if programs is None:
        raise PostgresMissing("PostgreSQL is not installed (apt-get install postgresql)")
    as_user = "postgres" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="fmnist-pg-"))
    try:
        if as_user:
            shutil.chown(folder, as_user)
        pg = LocalPostgres(folder, _free_port(), programs, as_user)
        pwfile = folder / "pw"
        pwfile.write_text("fmnist\n")
        if as_user:
            shutil.chown(pwfile, as_user)
        pg._run("initdb", "-D", str(folder / "data"), "-U", "fmnist", "-A", "scram-sha-256",
                f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8")  # fmt: skip
        pg.start()
        try:
            env = {**os.environ, "PGPASSWORD": "fmnist"}
            subprocess.run([str(programs / "createdb"), "-h", "127.0.0.1", "-p", str(pg.port),
                            "-U", "fmnist", "fmnist"], check=True, env=env,
                           capture_output=True, timeout=60)  # fmt: skip
            yield pg
        finally:
            with contextlib.suppress(Exception):
                pg.stop("immediate")
    finally:
        # the data folder belongs to postgres when run as root; root may delete it
        for _ in range(3):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                break
            time.sleep(0.5)
