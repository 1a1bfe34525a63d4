"""Joining a quiz from the projector: the link students open (the server's network address,
never localhost) and its QR code. No Streamlit here: the page passes in what the teacher's
browser shows and the server's options.

The link is `<base>/quiz?quiz=<code>`; the Quiz page's start form reads `?quiz=` into its
code field, so scanning the code opens the quiz with the code filled in.
"""

from __future__ import annotations

import io
import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import quote, urlsplit

import segno

from fmnist_core.classroom.quiz import normalise_code

DEFAULT_PORT = 8501


def is_loopback(host: str | None) -> bool:
    """True for an address only this machine reaches: localhost, 127.x, ::1, 0.0.0.0, ''."""
    host = (host or "").strip().strip("[]").lower()
    if host in ("", "localhost", "0.0.0.0", "::") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def lan_address() -> str:
    """This machine's address on the local network, found without the internet: the address
    the system would send from towards a private address (a UDP socket's connect sends no
    packet), else the host name's addresses; 127.0.0.1 when there is none."""
    for target in ("10.255.255.255", "192.168.255.255", "172.31.255.255"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((target, 1))
                ip = str(s.getsockname()[0])
        except OSError:
            continue
        if not is_loopback(ip):
            return ip
    try:
        for ip in socket.gethostbyname_ex(socket.gethostname())[2]:
            if not is_loopback(ip):
                return ip
    except OSError:
        pass
    return "127.0.0.1"


def _base_path(path: str | None) -> str:
    path = (path or "").strip("/")
    return f"/{path}" if path else ""


def _host_port(host: str, port: int, scheme: str) -> str:
    if ":" in host and not host.startswith("["):  # an IPv6 address
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return host if port == default else f"{host}:{port}"


def base_url(
    browser_url: str | None = None,
    *,
    server_address: str | None = None,
    port: int = DEFAULT_PORT,
    base_path: str = "",
    lan: Callable[[], str] = lan_address,
) -> str:
    """The app's address as the class reaches it, without a trailing slash:

    1. `server_address` (Streamlit's browser.serverAddress, when set and not loopback): a
       name or address, with a scheme and path if it has them, and `port` unless given;
    2. else the teacher's browser URL (st.context.url), when its host is not loopback: what
       the teacher's browser reached, the class reaches too;
    3. else this machine's LAN address, `port` (server.port) and `base_path`.
    `base_path` is Streamlit's server.baseUrlPath."""
    path = _base_path(base_path)
    if server_address and not is_loopback(urlsplit(_with_scheme(server_address)).hostname):
        given = urlsplit(_with_scheme(server_address))
        scheme = given.scheme or "http"
        netloc = given.netloc if given.port else _host_port(given.hostname or "", port, scheme)
        return f"{scheme}://{netloc}{_base_path(given.path) or path}"
    if browser_url:
        seen = urlsplit(browser_url)
        if seen.hostname and not is_loopback(seen.hostname):
            return f"{seen.scheme or 'http'}://{seen.netloc}{path}"
    return f"http://{_host_port(lan(), port, 'http')}{path}"


def _with_scheme(address: str) -> str:
    address = address.strip()
    return address if "://" in address else f"http://{address}"


def join_link(base: str, code: str) -> str:
    """The link that opens quiz `code`: `<base>/quiz?quiz=<code>`."""
    return f"{base.rstrip('/')}/quiz?quiz={quote(normalise_code(code))}"


def short_link(link: str) -> str:
    """The link as people type it: without `http://` (a browser adds it)."""
    return link.removeprefix("http://")


def qr_code(link: str) -> segno.QRCode:
    """A QR code (not a micro one, which phones do not read) with medium error correction:
    a projector's glare or a smudged screen still scans."""
    return segno.make(link, error="m", micro=False)


def qr_png(link: str, scale: int = 12, border: int = 4) -> bytes:
    """The QR code of `link` as PNG bytes, `scale` pixels per module, black on white, with the
    four-module quiet zone scanners need."""
    buf = io.BytesIO()
    qr_code(link).save(buf, kind="png", scale=scale, border=border, dark="#000", light="#fff")
    return buf.getvalue()


def qr_svg(link: str, scale: int = 12, border: int = 4) -> str:
    """The QR code of `link` as an SVG document (sharp at any size)."""
    buf = io.BytesIO()
    qr_code(link).save(buf, kind="svg", scale=scale, border=border, dark="#000", light="#fff",
                       xmldecl=False)  # fmt: skip
    return buf.getvalue().decode()
