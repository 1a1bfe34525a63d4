"""Who is using this browser: the teacher or a student (class mode), or the owner of a personal
copy (personal mode: always the teacher). See fmnist_core/roles.py for who may do what.

The identity lives in a signed cookie (`fmnist_id`), written by a line of JavaScript and read
back by Streamlit when a tab connects: a reload or a new tab of the same browser is the same
person, with the same runs. Within a tab it is also kept in the session state.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
import uuid

import streamlit as st

from fmnist_core.errors import FmnistError
from fmnist_core.roles import (
    EMAILS_ENV,
    HOW_TO_TURN_ON,
    PASSWORD_ENV,
    STUDENT,
    STUDENT_TOKEN_DAYS,
    TEACHER,
    TEACHER_NAME_ENV,
    TEACHER_ONLY,
    TEACHER_TOKEN_DAYS,
    Actor,
    ClassSettings,
    NotAllowed,
    check_password,
    class_settings,
    clean_person_name,
    read_identity,
    server_secret,
    sign_identity,
    teacher_for_email,
)
from fmnist_core.ui.phone import run_script

_ENV = (PASSWORD_ENV, EMAILS_ENV, TEACHER_NAME_ENV)
COOKIE = "fmnist_id"
RUNS_COOKIE = "fmnist_runs"  # {model: version} this browser uses for itself
ACTOR = "_actor"  # session state: this tab's Actor
_SETTINGS: tuple[tuple, ClassSettings | None] = ((), None)
_SECRET: list[bytes] = []


def settings() -> ClassSettings:
    """The class-mode settings, read again at most every 5 seconds (each rerun asks), and
    at once when the environment's settings change."""
    global _SETTINGS
    key = (int(time.monotonic() // 5), *(os.environ.get(v) for v in _ENV))
    held_key, held = _SETTINGS
    if held is None or held_key != key:
        try:
            held = class_settings()
        except FmnistError as e:  # an unreadable secrets.toml: say so, stay in personal mode
            st.error(str(e))
            held = ClassSettings()
        _SETTINGS = (key, held)
    return held


def _secret() -> bytes:
    if not _SECRET:
        _SECRET.append(server_secret())
    return _SECRET[0]


def class_mode() -> bool:
    return settings().class_mode


def _cookie(name: str) -> str:
    """A cookie the browser sent when this tab connected ('' when none, or no browser: bare
    mode and AppTest, whose context is a stand-in)."""
    try:
        value = st.context.cookies.get(name)
    except (AttributeError, RuntimeError):
        return ""
    return value if isinstance(value, str) else ""


def _from_cookie() -> Actor | None:
    return read_identity(_cookie(COOKIE), _secret())


def _remember(actor: Actor) -> None:
    """Keep `actor` for this tab and write the signed cookie for the next tabs and reloads."""
    st.session_state[ACTOR] = actor
    days = TEACHER_TOKEN_DAYS if actor.role == TEACHER else STUDENT_TOKEN_DAYS
    st.session_state["_cookie_to_write"] = (sign_identity(actor, _secret()), days)


def remembered_runs() -> dict[str, str]:
    """The versions this browser chose for itself ("Use in my session"), from its cookie: a
    reload or a new tab keeps them. Only names and ids: the pages check they still exist."""
    raw = _cookie(RUNS_COOKIE)
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))) if raw else {}
    except (ValueError, binascii.Error):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def remember_runs(runs: dict[str, str]) -> None:
    raw = base64.urlsafe_b64encode(json.dumps(runs, separators=(",", ":")).encode()).decode()
    st.session_state["_runs_cookie_to_write"] = raw.rstrip("=")


def write_cookie_if_needed() -> None:
    """Run once per script run (app.py): sends a changed identity's cookie, and a changed
    choice of versions, to the browser."""
    pending = st.session_state.pop("_cookie_to_write", None)
    if pending is not None:
        value, days = pending
        cookie = f"{COOKIE}={value}; path=/; max-age={days * 86400}; SameSite=Lax"
        run_script(f"document.cookie = {json.dumps(cookie)};", value)
    runs = st.session_state.pop("_runs_cookie_to_write", None)
    if runs is not None:
        cookie = f"{RUNS_COOKIE}={runs}; path=/; max-age={STUDENT_TOKEN_DAYS * 86400}; SameSite=Lax"
        run_script(f"document.cookie = {json.dumps(cookie)};", f"runs {runs}")


def _oidc_teacher(s: ClassSettings) -> Actor | None:
    if not s.oidc:
        return None
    try:
        user = st.user
        if not user.is_logged_in:
            return None
        email = str(user.get("email") or "")
    except (AttributeError, KeyError, RuntimeError):
        return None
    if teacher_for_email(email, s):
        return Actor(str(user.get("name") or email), TEACHER, f"teacher:{email.lower()}")
    return None


def current_actor() -> Actor:
    """This person. Personal mode: the teacher. Class mode: the signed-in teacher, else a
    student (named once they give a name; their id is stable from the first visit)."""
    s = settings()
    known: Actor | None = st.session_state.get(ACTOR)
    if known is None:
        known = _from_cookie()
        if known is None:
            known = Actor("", STUDENT, uuid.uuid4().hex)
            _remember(known)
        else:
            st.session_state[ACTOR] = known
    if not s.class_mode:
        return Actor(known.name or "You", TEACHER, known.id)
    if (oidc := _oidc_teacher(s)) is not None:
        return oidc
    return known


def is_teacher() -> bool:
    return current_actor().is_teacher


def set_name(name: str) -> Actor:
    """Name this person (a student gives a name once); their id, and so their runs, stay."""
    current_actor()  # makes sure this tab holds its stored identity
    stored: Actor = st.session_state[ACTOR]  # its stored role: personal mode's powers stay here
    _remember(Actor(clean_person_name(name), stored.role, stored.id))
    return current_actor()


def sign_in(password: str, name: str = "") -> bool:
    s = settings()
    if not check_password(password, s):
        return False
    who = (name or "").strip()[:40] or s.teacher_name
    _remember(Actor(who, TEACHER, "teacher"))
    return True


def sign_out() -> None:
    """Back to a nameless student (a fresh id: the teacher's powers stay behind)."""
    _remember(Actor("", STUDENT, uuid.uuid4().hex))


def teacher_only_note(action: str) -> None:
    """The one line a student reads where a teacher-only control would be."""
    st.caption(TEACHER_ONLY[action].replace("In class mode only", "Only"))


def personal_mode_hint() -> None:
    """On the Models, Train and Quiz pages in personal mode: how to turn on class mode."""
    if not class_mode():
        st.caption(HOW_TO_TURN_ON)


def refusal(e: NotAllowed) -> None:
    st.warning(str(e))


def ask_name(key: str, purpose: str) -> Actor | None:
    """A student's name, asked once (then remembered in the cookie). Returns the named actor,
    or None while there is no name yet (the form is on screen)."""
    actor = current_actor()
    if actor.name:
        return actor
    name = st.text_input(f"Your name ({purpose})", max_chars=40, key=f"name_{key}")
    if st.button("Save my name", key=f"name_{key}_save"):
        try:
            return set_name(name)
        except NotAllowed as e:
            st.error(str(e))
    return None


def identity_sidebar() -> None:
    """The sidebar's identity block: in class mode, who you are, the Teacher sign-in (a
    password field) or, signed in, your name and Sign out; nothing in personal mode."""
    s = settings()
    if not s.class_mode:
        return
    actor = current_actor()
    with st.sidebar:
        if actor.is_teacher:
            st.markdown(f":material/school: Signed in as **{actor.label}**")
            if actor.id == "teacher" and st.button("Sign out", key="teacher_sign_out"):
                sign_out()
                st.rerun()
            elif actor.id.startswith("teacher:") and st.button("Log out", key="teacher_logout"):
                st.logout()
            return
        st.caption(
            f"Class mode: you are **{actor.name}** (a student)."
            if actor.name
            else "Class mode: you are a student."
        )
        if s.teacher_password:
            with st.expander("Teacher sign-in"):
                with st.form("teacher_sign_in", border=False):
                    password = st.text_input("Teacher password", type="password", key="teacher_pw")
                    name = st.text_input("Teacher's name", value=s.teacher_name, key="teacher_name")
                    go = st.form_submit_button("Sign in")
                if go:
                    if sign_in(password, name):
                        st.rerun()
                    st.error("That is not the teacher password.")
        if s.oidc and s.teacher_emails and st.button("Teacher: sign in with your school account"):
            st.login()
