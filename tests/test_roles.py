"""roles.py: who may do what, the signed identity a cookie keeps, the teacher password, the
class-mode settings from secrets and the environment, names people type."""

from __future__ import annotations

import time

import pytest

from fmnist_core import roles
from fmnist_core.errors import FmnistError
from fmnist_core.roles import (
    MACHINE_OWNER,
    STUDENT,
    TEACHER,
    TEACHER_ONLY,
    Actor,
    ClassSettings,
    NotAllowed,
)

SECRET = b"a-test-secret"
ANN = Actor("Ann", STUDENT, "ann-id")
MS_SMITH = Actor("Ms Smith", TEACHER, "smith-id")


@pytest.fixture()
def no_class_env(monkeypatch):
    """No class-mode setting from the environment of whoever runs the tests."""
    for var in (roles.PASSWORD_ENV, roles.EMAILS_ENV, roles.TEACHER_NAME_ENV, roles.SECRET_ENV):
        monkeypatch.delenv(var, raising=False)


# --------------------------------------------------------------------------- actors, rules


def test_actors_and_their_labels():
    assert MS_SMITH.is_teacher and MS_SMITH.label == "Ms Smith (teacher)"
    assert not ANN.is_teacher and ANN.label == "Ann"
    assert MACHINE_OWNER.is_teacher  # the command line acts as the teacher
    assert issubclass(NotAllowed, FmnistError)


def test_require_teacher_refuses_a_student_with_the_sentence_they_read():
    for action, sentence in TEACHER_ONLY.items():
        roles.require_teacher(MS_SMITH, action)
        roles.require_teacher(MACHINE_OWNER, action)
        with pytest.raises(NotAllowed) as caught:
            roles.require_teacher(ANN, action)
        assert str(caught.value) == sentence
    with pytest.raises(KeyError, match="unknown teacher-only action"):
        roles.require_teacher(MS_SMITH, "rule_the_world")


def test_may_manage_the_teacher_everything_a_student_their_own():
    assert roles.may_manage(MS_SMITH, "someone-else")
    assert roles.may_manage(MS_SMITH, None)  # a run nobody can tell the owner of
    assert roles.may_manage(ANN, "ann-id")
    assert not roles.may_manage(ANN, "bob-id")
    assert not roles.may_manage(ANN, None)
    assert not roles.may_manage(ANN, "")
    assert not roles.may_manage(Actor("Nobody", STUDENT, ""), "")  # no id owns nothing


def test_clean_person_name_tidies_and_refuses_the_teachers_role():
    assert roles.clean_person_name("  Ann   Lee ") == "Ann Lee"
    assert roles.clean_person_name("x" * 100) == "x" * 40
    for bad in ("", "   ", None):
        with pytest.raises(NotAllowed, match="Type your name"):
            roles.clean_person_name(bad)  # type: ignore[arg-type]
    for bad in ("Teacher", "the TEACHER", "Ann (teacher)", "Mrteacherface"):
        with pytest.raises(NotAllowed, match="only for the signed-in teacher"):
            roles.clean_person_name(bad)
    new = roles.new_student("  Bo  ")
    assert new.name == "Bo" and new.role == STUDENT and len(new.id) == 32
    assert roles.new_student("Bo").id != new.id  # two people of one name are two people


# --------------------------------------------------------------------------- signed identity


def test_a_signed_identity_round_trips():
    for actor in (ANN, MS_SMITH, Actor("Zoë O'Neil, 7b", STUDENT, "x" * 32)):
        token = roles.sign_identity(actor, SECRET)
        assert roles.read_identity(token, SECRET) == actor


def test_a_tampered_or_foreign_identity_is_refused():
    token = roles.sign_identity(ANN, SECRET)
    payload, sig = token.split(".")
    # a student who rewrites the cookie to say "teacher" without the secret
    forged_body = roles._b64(b'{"n":"Ann","r":"teacher","i":"ann-id","t":%d}' % int(time.time()))
    assert roles.read_identity(f"{forged_body}.{sig}", SECRET) is None
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    assert roles.read_identity(f"{payload}.{flipped}", SECRET) is None
    assert roles.read_identity(token, b"another server's secret") is None
    for junk in (None, "", "nodot", "a.b.c", ".", f"{payload}."):
        assert roles.read_identity(junk, SECRET) is None
    # well signed but not an identity: refused too
    bad = roles._b64(b'{"n":"Ann","r":"admin","i":"x","t":1}')
    assert roles.read_identity(f"{bad}.{roles._sig(bad, SECRET)}", SECRET) is None
    odd = roles._b64(b"not json")
    assert roles.read_identity(f"{odd}.{roles._sig(odd, SECRET)}", SECRET) is None


def test_identities_expire_the_teachers_after_a_day_a_students_after_months():
    now = 1_900_000_000.0
    teacher = roles.sign_identity(MS_SMITH, SECRET, now=now)
    student = roles.sign_identity(ANN, SECRET, now=now)
    day = 86400
    assert roles.read_identity(teacher, SECRET, now=now + day - 60) == MS_SMITH
    assert roles.read_identity(teacher, SECRET, now=now + day + 60) is None
    assert roles.read_identity(student, SECRET, now=now + 30 * day) == ANN
    assert (
        roles.read_identity(student, SECRET, now=now + roles.STUDENT_TOKEN_DAYS * day + 60) is None
    )


def test_the_server_secret_comes_from_the_environment_or_one_file(
    isolated_cache, no_class_env, monkeypatch
):
    first = roles.server_secret()
    assert len(first) == 64 and (isolated_cache / "server-secret").is_file()
    assert roles.server_secret() == first  # made once: every server on this folder shares it
    assert (isolated_cache / "server-secret").stat().st_mode & 0o077 == 0  # private
    assert roles.server_secret({"cookie_secret": "from-secrets"}) == b"from-secrets"
    monkeypatch.setenv(roles.SECRET_ENV, "from-env")
    assert roles.server_secret({"cookie_secret": "from-secrets"}) == b"from-env"


# --------------------------------------------------------------------------- password, settings


def test_check_password_compares_in_constant_time_and_waits_when_wrong(monkeypatch):
    settings = ClassSettings(teacher_password="correct horse")
    compared = []
    real = roles.hmac.compare_digest

    def spy(a, b):
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(roles.hmac, "compare_digest", spy)
    start = time.perf_counter()
    assert roles.check_password("correct horse", settings, delay_s=0.5)
    assert time.perf_counter() - start < 0.4  # the right one does not wait
    # digests of equal length are compared, whatever the lengths typed
    assert compared == [(32, 32)]
    for wrong in ("correct hors", "correct horse ", "", "x" * 1000):
        start = time.perf_counter()
        assert not roles.check_password(wrong, settings, delay_s=0.01)
        assert time.perf_counter() - start >= 0.01
    assert all(c == (32, 32) for c in compared)
    # no password configured (personal mode): nothing is right
    assert not roles.check_password("", ClassSettings(), delay_s=0.01)
    assert not roles.check_password("anything", ClassSettings(), delay_s=0.01)


def test_class_settings_from_a_mapping(no_class_env):
    assert not roles.class_settings({}).class_mode  # personal mode
    s = roles.class_settings(
        {
            "teacher_password": "pw",
            "teacher_emails": "Smith@School.org; jones@school.org,",
            "teacher_name": "Ms Smith",
        }
    )
    assert s.class_mode and s.teacher_password == "pw" and s.teacher_name == "Ms Smith"
    assert s.teacher_emails == {"smith@school.org", "jones@school.org"}
    assert not s.oidc
    # teachers' e-mails alone turn class mode on only with a login provider configured
    emails_only = {"teacher_emails": ["smith@school.org"]}
    assert not roles.class_settings(emails_only).class_mode
    oidc = roles.class_settings({**emails_only, "auth": {"redirect_uri": "https://x/oauth2"}})
    assert oidc.oidc and oidc.class_mode and oidc.teacher_password is None
    assert roles.teacher_for_email(" SMITH@school.org ", oidc)
    assert not roles.teacher_for_email("ann@school.org", oidc)
    assert not roles.teacher_for_email(None, oidc)
    assert roles.class_settings({}).teacher_name == "Teacher"


def test_class_settings_from_the_environment_win(no_class_env, monkeypatch):
    monkeypatch.setenv(roles.PASSWORD_ENV, "env-pw")
    monkeypatch.setenv(roles.EMAILS_ENV, "a@b.org")
    monkeypatch.setenv(roles.TEACHER_NAME_ENV, "Mr Env")
    s = roles.class_settings({"teacher_password": "file-pw", "teacher_name": "Ms File"})
    assert s.class_mode and s.teacher_password == "env-pw" and s.teacher_name == "Mr Env"
    assert s.teacher_emails == {"a@b.org"}
    assert roles.check_password("env-pw", s, delay_s=0.01)
    assert not roles.check_password("file-pw", s, delay_s=0.01)


def test_secrets_files_are_merged_the_last_one_winning(tmp_path, no_class_env):
    user, project = tmp_path / "user.toml", tmp_path / "project.toml"
    user.write_text('teacher_password = "user"\nteacher_name = "Ms User"\n')
    project.write_text('teacher_password = "project"\n')
    merged = roles.read_secrets_files([user, project, tmp_path / "missing.toml"])
    assert merged == {"teacher_password": "project", "teacher_name": "Ms User"}
    assert roles.class_settings(merged).teacher_password == "project"
    project.write_text("teacher_password = \n")
    with pytest.raises(FmnistError, match="Cannot read"):
        roles.read_secrets_files([project])
