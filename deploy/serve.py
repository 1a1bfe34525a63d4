"""Several app servers behind HAProxy, on one machine, as one command.

One `streamlit run app.py` is one Python process: past about 30 busy sessions its answers slow
down (bench/bench_load.py). Streamlit grows by running several servers behind a load balancer
that keeps each session on its server (a session lives in that server's memory) and passes
websockets through. This script starts N servers, each on its own port, with the same
environment and so the same cache folder (models, versions, the version in use, the training
lock, the SQLite store) or the same PostgreSQL (FMNIST_DATABASE_URL), and HAProxy in front on
one port, with a cookie for session affinity (deploy/haproxy.cfg.template). A server that
exits is started again while the others serve its people (supervise()). Ctrl-C or SIGTERM
stops them all.

    python deploy/serve.py --servers 2 --port 8500

The benchmarks and tests use `serving()` from here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "haproxy.cfg.template"
HAPROXY = "/usr/sbin/haproxy"
COOKIE = "SERVERID"  # the affinity cookie; its value names the server (app1, app2, ...)
HEALTH = "/_stcore/health"


class ServeError(RuntimeError):
    """A server or the proxy did not start (the message says which, and its log's end)."""


@dataclass
class Deployment:
    """What `serving()` started: the proxy's URL (what people open) and each server's."""

    url: str
    server_urls: list[str]
    servers: list[subprocess.Popen]
    proxy: subprocess.Popen
    logs: list[Path] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)
    env: dict = field(default_factory=dict)

    def names(self) -> list[str]:
        """The servers' names, as the affinity cookie carries them."""
        return [server_name(i) for i in range(len(self.servers))]

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        """Send server i `sig` (SIGKILL: as a crash would) and wait until it is gone. The
        proxy sends its people to the others (its checks, and `option redispatch`)."""
        proc = self.servers[i]
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        proc.wait()

    def restart(self, i: int, wait: bool = True) -> None:
        """Start server i again, on its port, with its log continued; the proxy takes it
        back once its checks pass. `wait`: until it answers its health check."""
        if self.servers[i].poll() is None:
            self.kill(i, signal.SIGTERM)
        self.servers[i] = _start(self.commands[i], self.env, self.logs[i], append=True)
        if wait:
            wait_healthy(self.server_urls[i], self.servers[i], self.logs[i])


def server_name(i: int) -> str:
    return f"app{i + 1}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_haproxy() -> str | None:
    """HAProxy's executable: HAPROXY in the environment, /usr/sbin/haproxy, or on PATH."""
    for candidate in (os.environ.get("HAPROXY"), HAPROXY, shutil.which("haproxy")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def haproxy_config(port: int, server_ports: list[int], bind: str = "127.0.0.1") -> str:
    """The template filled in: HAProxy on `bind:port`, one line per server."""
    lines = [
        f"    server {server_name(i)} 127.0.0.1:{p} check inter 2s fall 3 rise 2 "
        f"cookie {server_name(i)}"
        for i, p in enumerate(server_ports)
    ]
    text = TEMPLATE.read_text()
    for key, value in (("bind", bind), ("port", str(port)), ("servers", "\n".join(lines))):
        text = text.replace("{" + key + "}", value)
    return text


def _die_with_parent() -> None:
    """In the child: be sent SIGTERM if this script dies without cleaning up (Linux)."""
    with contextlib.suppress(Exception):
        import ctypes  # only here, in the child, and only on Linux

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start(args: list[str], env: dict, log: Path, append: bool = False) -> subprocess.Popen:
    with open(log, "ab" if append else "wb") as out:
        return subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches this script only; it stops them in order
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )


def _tail(log: Path, chars: int = 2000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    """Until `url`/_stcore/health answers 200; ServeError if `proc` exits or time runs out."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + HEALTH, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            raise ServeError(f"{proc.args[0]} exited ({proc.returncode}):\n{_tail(log)}")
        time.sleep(0.3)
    raise ServeError(f"{url} did not answer {HEALTH} in {timeout:.0f} s:\n{_tail(log)}")


def stop(procs: list[subprocess.Popen], timeout: float = 15) -> None:
    """SIGTERM to each, then SIGKILL to any still running after `timeout` seconds."""
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.terminate()
    deadline = time.time() + timeout
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@contextlib.contextmanager
def serving(
    servers: int = 2,
    port: int | None = None,
    bind: str = "127.0.0.1",
    env: dict | None = None,
    log_dir: Path | None = None,
    streamlit_args: list[str] | None = None,
) -> Iterator[Deployment]:
    """Start `servers` app servers and HAProxy in front on `port` (a free one if None);
    yield once the proxy and every server answer; stop them all on leaving.

    `env`: every server's environment (default: this process's); `log_dir`: where the logs go
    (appN.log, haproxy.log, haproxy.cfg; default: a temporary folder)."""
    haproxy = find_haproxy()
    if haproxy is None:
        raise ServeError(f"HAProxy is missing ({HAPROXY}): apt-get install haproxy")
    env = dict(os.environ if env is None else env)
    env.setdefault("PYTHONUNBUFFERED", "1")
    # Streamlit signs its XSRF cookie with this: one key for all servers, so a browser that
    # lands on another server (its own stopped) can still upload
    env.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_hex(32))
    with contextlib.ExitStack() as stack:
        if log_dir is None:
            log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fmnist-serve-")))
        log_dir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        ports = [free_port() for _ in range(servers)]
        procs: list[subprocess.Popen] = []
        stack.callback(stop, procs)  # runs last: after the proxy's, before the folder goes
        logs, commands = [], []
        for i, p in enumerate(ports):
            logs.append(log_dir / f"{server_name(i)}.log")
            commands.append([
                sys.executable, "-m", "streamlit", "run", "app.py",
                "--server.headless", "true",
                "--server.port", str(p),
                "--server.address", "127.0.0.1",
                "--browser.gatherUsageStats", "false",
                *(streamlit_args or []),
            ])  # fmt: skip
            procs.append(_start(commands[i], env, logs[i]))
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        for url, proc, log in zip(urls, procs, logs):
            wait_healthy(url, proc, log)
        cfg = log_dir / "haproxy.cfg"
        cfg.write_text(haproxy_config(port, ports, bind))
        check = subprocess.run(
            [haproxy, "-c", "-q", "-f", str(cfg)], capture_output=True, text=True
        )
        if check.returncode != 0:
            raise ServeError(f"haproxy rejected {cfg}:\n{check.stdout}{check.stderr}")
        proxy_log = log_dir / "haproxy.log"
        proxy = _start([haproxy, "-db", "-f", str(cfg)], env, proxy_log)
        stack.callback(stop, [proxy])
        url = (
            f"http://127.0.0.1:{port}" if bind in ("0.0.0.0", "::", "") else f"http://{bind}:{port}"
        )
        wait_healthy(url, proxy, proxy_log, timeout=30)
        # HAProxy's own checks: a server counts as up after `rise 2` (two checks, 2 s apart);
        # until then the proxy may answer 503
        _wait_all_up(url, servers)
        yield Deployment(url, urls, procs, proxy, [*logs, proxy_log], commands, env)


def _wait_all_up(url: str, servers: int, timeout: float = 30) -> None:
    """Until fresh visitors (no cookie) have been sent to every server."""
    seen: set[str] = set()
    deadline = time.time() + timeout
    while len(seen) < servers and time.time() < deadline:
        try:
            with urllib.request.urlopen(url + HEALTH, timeout=2) as r:
                for header in r.headers.get_all("Set-Cookie") or []:
                    name, _, rest = header.partition("=")
                    if name.strip() == COOKIE:
                        seen.add(rest.split(";")[0])
        except OSError:
            pass
        if len(seen) < servers:
            time.sleep(0.2)


def supervise(d: Deployment, poll: float = 1.0) -> int:
    """Keep the deployment up until interrupted: a server that exits (a crash, SIGKILL, out
    of memory) is started again on its port while the others go on serving (the proxy sends
    its people to them meanwhile; their quiz resumes from its link). A server that keeps
    dying (5 times within 10 minutes) or the proxy exiting stops everything: returns 1."""
    deaths: list[list[float]] = [[] for _ in d.servers]
    while True:
        if d.proxy.poll() is not None:
            print(f"haproxy exited ({d.proxy.returncode}); stopping the servers.", flush=True)
            return 1
        for i, (name, p) in enumerate(zip(d.names(), d.servers)):
            if p.poll() is None:
                continue
            now = time.time()
            deaths[i] = [t for t in deaths[i] if now - t < 600] + [now]
            if len(deaths[i]) >= 5:
                print(f"{name} exited 5 times in 10 minutes; stopping. Its log: {d.logs[i]}")
                return 1
            print(f"{name} exited ({p.returncode}); the others serve its people while it "
                  "starts again.", flush=True)  # fmt: skip
            d.restart(i, wait=False)
        time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Start several app servers behind HAProxy (session affinity by cookie); "
        "Ctrl-C stops them all."
    )
    parser.add_argument("--servers", type=int, default=2, help="app servers (default 2)")
    parser.add_argument("--port", type=int, default=8500, help="the port people open (8500)")
    parser.add_argument(
        "--bind",
        default="0.0.0.0",
        help="the address HAProxy listens on (default 0.0.0.0: the whole network; "
        "127.0.0.1: this machine only)",
    )
    parser.add_argument("--logs", type=Path, help="a folder for the servers' and proxy's logs")
    args = parser.parse_args(argv)
    if args.servers < 1:
        parser.error("--servers must be at least 1")

    def on_term(signum, frame):
        raise KeyboardInterrupt  # SIGTERM stops everything the way Ctrl-C does

    signal.signal(signal.SIGTERM, on_term)
    try:
        with serving(args.servers, args.port, args.bind, log_dir=args.logs) as d:
            print(f"{args.servers} servers behind HAProxy: open http://<this machine>:{args.port}")
            for name, url, p in zip(d.names(), d.server_urls, d.servers):
                print(f"  {name}: {url} (pid {p.pid})")
            if args.logs:
                print(f"  logs: {args.logs}")
            print("Ctrl-C stops them all.", flush=True)
            try:
                return supervise(d)
            except KeyboardInterrupt:
                print("\nStopping the servers and the proxy...", flush=True)
        return 0
    except KeyboardInterrupt:  # while starting
        return 0
    except ServeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
