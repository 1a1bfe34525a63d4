"""Who may do what. Two modes:

- **personal mode** (nothing configured): whoever runs the app is the teacher; everything works
  for everyone, as on your own machine;
- **class mode** (a teacher password, or teachers' e-mail addresses for `st.login`, is
  configured): visitors are students until the teacher signs in. Only the teacher changes what
  everyone sees (the version in use, deletions of other people's runs, cancelling someone
  else's training, names in results, settled label decisions, erasing a quiz); a student's
  own run and choices stay theirs.

The core refuses a teacher-only action from a student (`require_teacher`), not only the pages.
The command line is run by whoever owns the server's machine: it acts as the teacher
(`MACHINE_OWNER`).

A person's identity outlives the browser's websocket session: the app keeps it in a cookie
signed with the server's secret (`sign_identity` / `read_identity`), so a reload or a new tab
of the same browser is the same person, and their own runs stay deletable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets as secrets_lib
import time
import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fmnist_core.errors import FmnistError
from fmnist_core.paths import cache_dir

Role = Literal["teacher", "student"]
TEACHER: Role = "teacher"
STUDENT: Role = "student"

PASSWORD_ENV = "FMNIST_TEACHER_PASSWORD"
EMAILS_ENV = "FMNIST_TEACHER_EMAILS"
TEACHER_NAME_ENV = "FMNIST_TEACHER_NAME"
SECRET_ENV = "FMNIST_SECRET"
WRONG_PASSWORD_DELAY_S = 1.0
TEACHER_TOKEN_DAYS = 1  # a signed-in teacher stays signed in for a school day
STUDENT_TOKEN_DAYS = 180  # a student's name and runs, for a school year's half

HOW_TO_TURN_ON = (
    "Running this for a class? Set a teacher password (`FMNIST_TEACHER_PASSWORD`) to turn on "
    "class mode: students then cannot change what everyone sees (README: Run it for a class)."
)


class NotAllowed(FmnistError):
    """A teacher-only action asked for by a student (in class mode)."""


# What only the teacher does in class mode, each in the words a student reads.
TEACHER_ONLY: dict[str, str] = {
    "use_version": "In class mode only the teacher makes a version the one everyone uses.",
    "delete_run": "In class mode only the teacher deletes someone else's run.",
    "cancel_training": "In class mode only the teacher cancels someone else's training.",
    "quiz_names": "In class mode only the teacher sees the names and answers of a quiz.",
    "erase_quiz": "In class mode only the teacher erases a quiz's results.",
    "settle_label": "In class mode only the teacher settles a label decision; yours is a proposal.",
    "reset_demo": "In class mode only the teacher resets the class demo.",
}


@dataclass(frozen=True)
class Actor:
    """One person using the app (or the command line)."""

    name: str
    role: Role
    id: str  # stable across reloads and tabs: what "their own" runs and answers are tied to

    @property
    def is_teacher(self) -> bool:
        return self.role == TEACHER

    @property
    def label(self) -> str:
        """How the app shows who did something: 'Alex', 'Ms Smith (teacher)'."""
        if self.is_teacher and "teacher" not in self.name.lower():
            return f"{self.name} (teacher)"
        return self.name


MACHINE_OWNER = Actor("the command line", TEACHER, "cli")


def require_teacher(actor: Actor, action: str) -> None:
    """Refuse a teacher-only action (one of TEACHER_ONLY) from a student."""
    if action not in TEACHER_ONLY:
        raise KeyError(f"unknown teacher-only action {action!r}")
    if not actor.is_teacher:
        raise NotAllowed(TEACHER_ONLY[action])


def may_manage(actor: Actor, owner_id: str | None) -> bool:
    """The teacher manages everything; anyone else what they started themselves."""
    return actor.is_teacher or bool(owner_id) and owner_id == actor.id


# --------------------------------------------------------------------------- names


def clean_person_name(name: str, max_chars: int = 40) -> str:
    """A name as people type it, tidied; refused when empty or when it claims the teacher's
    role (the app adds '(teacher)' itself, from the signed-in role)."""
    name = " ".join((name or "").split())[:max_chars]
    if not name:
        raise NotAllowed("Type your name (first name and an initial is enough).")
    if "teacher" in name.lower():
        raise NotAllowed(
            "Choose another name: '(teacher)' is shown only for the signed-in teacher."
        )
    return name


def new_student(name: str) -> Actor:
    return Actor(clean_person_name(name), STUDENT, uuid.uuid4().hex)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ClassSettings:
    teacher_password: str | None = None
    teacher_emails: frozenset[str] = frozenset()
    teacher_name: str = "Teacher"
    oidc: bool = False  # an [auth] provider is configured for st.login

    @property
    def class_mode(self) -> bool:
        return bool(self.teacher_password) or bool(self.oidc and self.teacher_emails)


def secrets_files() -> list[Path]:
    """Where Streamlit looks for secrets: the user's, then the project's (which wins)."""
    return [Path.home() / ".streamlit" / "secrets.toml", Path.cwd() / ".streamlit" / "secrets.toml"]


def read_secrets_files(paths: list[Path] | None = None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in paths if paths is not None else secrets_files():
        try:
            merged.update(tomllib.loads(path.read_text()))
        except FileNotFoundError:
            continue
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise FmnistError(f"Cannot read {path}: {e}") from e
    return merged


def _emails(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        value = value.replace(";", ",").split(",")
    return frozenset(str(v).strip().lower() for v in value or () if str(v).strip())


def class_settings(secrets: Mapping[str, Any] | None = None) -> ClassSettings:
    """The class-mode settings: environment variables first, then the secrets (a mapping, such
    as st.secrets; by default the secrets.toml files Streamlit reads)."""
    secrets = read_secrets_files() if secrets is None else secrets
    password = os.environ.get(PASSWORD_ENV) or secrets.get("teacher_password") or None
    emails = _emails(os.environ.get(EMAILS_ENV) or secrets.get("teacher_emails"))
    name = os.environ.get(TEACHER_NAME_ENV) or secrets.get("teacher_name") or "Teacher"
    auth = secrets.get("auth")
    oidc = isinstance(auth, Mapping) and bool(auth.get("redirect_uri"))
    return ClassSettings(str(password) if password else None, emails, str(name), oidc)


def check_password(
    given: str, settings: ClassSettings, delay_s: float = WRONG_PASSWORD_DELAY_S
) -> bool:
    """The teacher password, compared in constant time; a wrong one waits `delay_s` (guessing
    from a classroom's laptops becomes slow)."""
    expected = settings.teacher_password
    ok = bool(expected) and hmac.compare_digest(
        hashlib.sha256((given or "").encode()).digest(),
        hashlib.sha256(str(expected).encode()).digest(),
    )
    if not ok:
        time.sleep(delay_s)
    return ok


def teacher_for_email(email: str | None, settings: ClassSettings) -> bool:
    return bool(email) and (email or "").strip().lower() in settings.teacher_emails


# --------------------------------------------------------------------------- signed identity


def server_secret(secrets: Mapping[str, Any] | None = None) -> bytes:
    """The key that signs identities: FMNIST_SECRET, or `cookie_secret` in the secrets, or a
    random key made once in the cache folder (servers sharing the folder share it)."""
    given = os.environ.get(SECRET_ENV) or (secrets or {}).get("cookie_secret")
    if given:
        return str(given).encode()
    path = cache_dir() / "server-secret"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets_lib.token_hex(32).encode()
    tmp = path.with_name(f".server-secret-{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    try:
        os.link(tmp, path)  # the first server to get here wins; others read its key
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes().strip()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sig(payload: str, secret: bytes) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def sign_identity(actor: Actor, secret: bytes, now: float | None = None) -> str:
    """A cookie value that says who this is, which nobody can forge without the secret."""
    body = {"n": actor.name, "r": actor.role, "i": actor.id, "t": int(now or time.time())}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_sig(payload, secret)}"


def read_identity(token: str | None, secret: bytes, now: float | None = None) -> Actor | None:
    """The person a signed cookie names; None if missing, tampered with or expired."""
    if not token or token.count(".") != 1:
        return None
    payload, sig = token.split(".")
    if not hmac.compare_digest(sig, _sig(payload, secret)):
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        role, name, pid, issued = body["r"], str(body["n"]), str(body["i"]), float(body["t"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None
    if role not in (TEACHER, STUDENT) or not name or not pid:
        return None
    days = TEACHER_TOKEN_DAYS if role == TEACHER else STUDENT_TOKEN_DAYS
    if (now or time.time()) - issued > days * 86400:
        return None
    return Actor(name, role, pid)
