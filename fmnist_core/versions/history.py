"""Every training run is a version of its model; one version per model is active.

The shipped version (`assets/models/<name>/`, id `shipped`) is never replaced or deleted. Each
run saves a new user version `<cache>/versions/<name>/<id>/` (an artifact folder, see
artifact.py) and changes nothing else: every page and the CLI keep using the active version
until someone makes another one active. `<cache>/versions/<name>/active.json` names the active
version, replaced in one rename, so concurrent writers leave one whole choice, never a torn
one. Without a choice the shipped version is active (or, for a model that ships none, its
newest run: there is nothing else to show).

Who may change this (roles.py): making a version the one in use, and going back to every
shipped version (`reset_to_shipped`), is the teacher's; deleting a run is the teacher's or its
starter's (the manifest's started_by "session" holds their id: `run_owner_id`).

`MODEL@VERSION` names a version anywhere a model name is accepted (`cnn1@shipped`,
`cnn1@20261129-031522-a3f1`). Folders from before versions (`<cache>/models/<name>/`) are
moved, in one rename, into a user version each the first time the model is looked up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmnist_core.atomic import write_json_atomic
from fmnist_core.contracts import ArtifactStatus, Manifest, Origin, starter
from fmnist_core.models import UnknownModelError, get_spec, list_models
from fmnist_core.paths import cache_dir
from fmnist_core.roles import TEACHER_ONLY, Actor, NotAllowed, may_manage, require_teacher
from fmnist_core.versions.artifact import (
    MANIFEST_FILE,
    SAFE_NAME,
    Artifact,
    ArtifactError,
    load_artifact,
    read_manifest,
    save_artifact,
    shipped_models_dir,
    user_models_dir,
)

SHIPPED = "shipped"
ACTIVE_FILE = "active.json"


class VersionError(ArtifactError):
    """An unknown version, or an action a version does not allow (deleting the shipped one)."""


def versions_dir(name: str | None = None) -> Path:
    root = cache_dir() / "versions"
    return root if name is None else root / _checked(name, "model name")


def _checked(text: str, what: str) -> str:
    if not SAFE_NAME.fullmatch(text or "") or ".." in text or "@" in text:
        raise ArtifactError(f"{text!r} is not a {what}")
    return text


def split_ref(ref: str) -> tuple[str, str | None]:
    """'cnn1' -> ('cnn1', None); 'cnn1@shipped' -> ('cnn1', 'shipped')."""
    name, sep, version = ref.partition("@")
    if sep and not version:
        raise VersionError(f"{ref!r}: give a version after '@' (for example {name}@shipped)")
    return name, (version or None)


def new_version_id(now: dt.datetime | None = None) -> str:
    """Sortable by time, unique: 20261129-031522-a3f1."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"


# --------------------------------------------------------------------------- reading


@dataclass
class Version:
    """One version of a model: its artifact, or why it cannot be read."""

    name: str
    id: str
    origin: Origin
    artifact: Artifact | None
    problem: str = ""
    active: bool = False

    @property
    def manifest(self) -> Manifest:
        return self.artifact.manifest if self.artifact else {}

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.id}"

    def as_json(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "id": self.id,
            "origin": self.origin,
            "test_accuracy": m.get("test_accuracy"),
            "active": self.active,
            "created_utc": m.get("created_utc"),
            "started_by": started_by(m),
            "changes": recipe_changes(m),
            "training_seconds": m.get("training_seconds"),
            "problem": self.problem or None,
        }


def _user_version(name: str, version: str) -> Artifact | None:
    folder = versions_dir(name) / _checked(version, "version id")
    if not folder.is_dir():
        return None
    return Artifact(name, folder, read_manifest(folder), "user", version)


def _shipped(name: str) -> Artifact | None:
    return load_artifact(name, shipped_models_dir(), "shipped")


def user_version_ids(name: str) -> list[str]:
    """The ids of a model's runs, oldest first (ids sort by time)."""
    migrate_legacy(name)
    folder = versions_dir(name)
    if not folder.is_dir():
        return []
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith(".") and SAFE_NAME.fullmatch(p.name)
    )


def chosen_version(name: str) -> str | None:
    """The version someone made active, None if nobody chose (or the file is unreadable)."""
    try:
        data = json.loads((versions_dir(name) / ACTIVE_FILE).read_text())
        version = data["version"]
        return _checked(version, "version id") if isinstance(version, str) else None
    except (OSError, ValueError, KeyError, TypeError, ArtifactError):
        return None


def active_artifact(name: str) -> Artifact | None:
    """The version every page and the CLI use: the chosen one, else the shipped one, else the
    newest run of a model that ships none. ArtifactError if the chosen one is damaged."""
    migrate_legacy(name)
    chosen = chosen_version(name)
    if chosen and chosen != SHIPPED:
        art = _user_version(name, chosen)
        if art is not None:
            return art  # else it was deleted meanwhile: fall back as if nobody chose
    shipped = _shipped(name)
    if shipped is not None or chosen == SHIPPED:
        return shipped
    for version in reversed(user_version_ids(name)):
        try:
            return _user_version(name, version)
        except ArtifactError:
            continue
    return None


def get_version(name: str, version: str) -> Artifact:
    """One version by id; VersionError if there is none with that id."""
    if version == SHIPPED:
        art = _shipped(name)
    else:
        art = _user_version(name, _checked(version, "version id"))
    if art is None:
        known = ", ".join(v.id for v in list_versions(name)) or "none"
        raise VersionError(f"{name} has no version {version!r} (its versions: {known})")
    return art


def list_versions(name: str) -> list[Version]:
    """The shipped version (if any) first, then every run oldest first; damaged ones with
    their problem. Each manifest is read once; the one in use follows active_artifact's rule."""
    out = []
    try:
        shipped = _shipped(name)
        if shipped is not None:
            out.append(Version(name, SHIPPED, "shipped", shipped))
    except ArtifactError as e:
        out.append(Version(name, SHIPPED, "shipped", None, str(e)))
    for version in user_version_ids(name):  # (moves an old-style folder in first)
        try:
            art = _user_version(name, version)
        except ArtifactError as e:
            out.append(Version(name, version, "user", None, str(e)))
            continue
        if art is not None:
            out.append(Version(name, version, "user", art))
    active = _active_id(chosen_version(name), out)
    for v in out:
        v.active = v.id == active and (v.artifact is not None or v.origin == "user")
    return out


def _active_id(chosen: str | None, listed: list[Version]) -> str | None:
    """active_artifact's rule on versions already read: the chosen run if it is there (even
    damaged: it is still the choice), else the shipped version, else the newest readable run."""
    users = [v for v in listed if v.origin == "user"]
    if chosen and chosen != SHIPPED and any(v.id == chosen for v in users):
        return chosen
    if any(v.origin == "shipped" for v in listed) or chosen == SHIPPED:
        return SHIPPED
    return next((v.id for v in reversed(users) if v.artifact is not None), None)


POLL_ENV = "FMNIST_STATE_POLL_S"  # how often a server looks at the files again (default 1 s)
_CHANGES = [0]  # bumped by every change this process makes (changed())
_SIGNATURES: dict[tuple, tuple[int, float, tuple]] = {}  # (cache, names) -> (changes, when, sig)


def changed() -> None:
    """Note a change of versions made by this process: its next state_signature() looks."""
    _CHANGES[0] += 1


def state_signature(names: list[str]) -> tuple:
    """Changes whenever the version any of `names` means may have changed: a choice made, a
    version added or deleted, a shipped manifest replaced, an old folder to move. About 40
    stat calls, no file read: what a busy server checks instead of reading every manifest
    (versions are never modified in place, only added and removed).

    The files are looked at again at most every FMNIST_STATE_POLL_S seconds (default 1): a
    page's rerun in between reuses the last answer (the stat calls were a twentieth of a busy
    server's rerun). A change made by this process (activate, delete, save, reset) shows at
    once; one made by another server or the CLI within that second."""
    cache = str(cache_dir())
    key = (cache, tuple(names))
    now = time.monotonic()
    held = _SIGNATURES.get(key)
    try:
        poll = float(os.environ.get(POLL_ENV) or 1.0)
    except ValueError:
        poll = 1.0
    if held is not None and held[0] == _CHANGES[0] and now - held[1] < poll:
        return held[2]
    out: list[tuple[int, int, int] | None] = []
    for path in _watched_paths(cache, key[1]):
        try:
            st = os.stat(path)
            out.append((st.st_ino, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    signature = (cache, *out)
    if len(_SIGNATURES) > 16:
        _SIGNATURES.clear()
    _SIGNATURES[key] = (_CHANGES[0], now, signature)
    return signature


@functools.lru_cache(maxsize=8)
def _watched_paths(cache: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """The files and folders state_signature looks at, as plain strings, built once per cache
    folder (building the paths costs more than the stat calls themselves, on every rerun)."""
    return tuple(
        str(path)
        for name in names
        for path in (
            versions_dir(name) / ACTIVE_FILE,
            versions_dir(name),
            user_models_dir() / name,
            shipped_models_dir() / name / MANIFEST_FILE,
        )
    )


def find_artifact(ref: str) -> Artifact | None:
    """The artifact a name means: 'cnn1' its active version, 'cnn1@<id>' that version
    (VersionError if it has none). None if the model has no version at all."""
    name, version = split_ref(ref)
    if version is not None:
        return get_version(name, version)
    return active_artifact(name)


def trained_artifact(ref: str) -> Artifact:
    """The artifact MODEL or MODEL@VERSION means, for a command that needs one: an unknown
    name fails with the known ones, a model with no version at all says how to train it."""
    name = split_ref(ref)[0]
    get_spec(name)
    art = find_artifact(ref)
    if art is None:
        raise ArtifactError(f"{ref} is not trained yet: run `python -m fmnist_core train {name}`")
    return art


def available_artifacts(names: list[str] | None = None) -> tuple[list[Artifact], dict[str, str]]:
    """Trained or shipped artifacts in registry order, and the problems of damaged ones."""
    found, problems = [], {}
    for name in names or list_models():
        try:
            art = find_artifact(name)
        except ArtifactError as e:
            problems[name] = str(e)
            continue
        if art is not None:
            found.append(art)
    return found, problems


def artifact_status(name: str) -> tuple[ArtifactStatus, Artifact | None, str]:
    """('trained' | 'shipped' | 'missing' | 'corrupt', artifact, message)."""
    try:
        art = find_artifact(name)
    except ArtifactError as e:
        return "corrupt", None, str(e)
    if art is None:
        return "missing", None, ""
    return ("trained" if art.origin == "user" else "shipped"), art, ""


# --------------------------------------------------------------------------- changing


def save_version(name: str, model: Any, manifest: Manifest, test_probs: Any) -> Artifact:
    """Save a training run as a new version of `name`, beside the others (none is replaced,
    and the version in use does not change)."""
    version = new_version_id()
    try:
        return save_artifact(name, model, {**manifest, "version_id": version}, test_probs,
                             root=versions_dir(name), folder_name=version, version=version)  # fmt: skip
    finally:
        changed()


def activate(name: str, version: str, *, actor: Actor) -> Artifact:
    """Make `version` the one every page and the CLI use (the teacher's choice in class mode:
    NotAllowed for a student). Concurrent calls: the last wins, and the choice on disk is
    always one whole version id."""
    require_teacher(actor, "use_version")
    art = get_version(name, version)  # unknown ids fail here
    art.verify()  # and a damaged version never becomes active
    write_json_atomic(
        versions_dir(name) / ACTIVE_FILE,
        {
            "version": version,
            "by": actor.label,
            "utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    )
    changed()
    return art


def delete_version(name: str, version: str, *, actor: Actor) -> None:
    """Delete one run: the teacher any, anyone else only a run they started (NotAllowed).
    The shipped version cannot be deleted; deleting the active run makes the shipped version
    active again."""
    if version == SHIPPED:
        raise VersionError(f"The shipped version of {name} cannot be deleted.")
    folder = versions_dir(name) / _checked(version, "version id")
    if not folder.is_dir():
        known = ", ".join(v.id for v in list_versions(name) if v.origin == "user") or "none"
        raise VersionError(f"{name} has no version {version!r} to delete (its runs: {known})")
    try:
        owner = run_owner_id(read_manifest(folder))
    except ArtifactError:  # a damaged run: nobody can tell whose it was, the teacher deletes it
        owner = None
    if not may_manage(actor, owner):
        raise NotAllowed(TEACHER_ONLY["delete_run"])
    if chosen_version(name) == version:  # nobody may keep pointing at a folder about to go
        (versions_dir(name) / ACTIVE_FILE).unlink(missing_ok=True)
    trash = versions_dir(name) / f".deleted-{version}-{uuid.uuid4().hex[:6]}"
    os.replace(folder, trash)  # gone for readers in one step
    changed()
    shutil.rmtree(trash, ignore_errors=True)


def reset_plan() -> list[tuple[str, str]]:
    """(model, version in use) for every model that ships a version but uses another one: what
    `reset_to_shipped` changes. Reads no manifest (a few stat calls per model)."""
    plan = []
    for name in list_models():
        if not (shipped_models_dir() / name / MANIFEST_FILE).is_file():
            continue
        chosen = chosen_version(name)
        if chosen and chosen != SHIPPED and (versions_dir(name) / chosen).is_dir():
            plan.append((name, chosen))
    return plan


def reset_to_shipped(*, actor: Actor) -> list[tuple[str, str]]:
    """Every model back to its shipped version (the class demo as it came; the teacher only).
    Returns the (model, version that was in use) pairs changed. Runs are kept."""
    require_teacher(actor, "reset_demo")
    done, problems = [], []
    for name, version in reset_plan():
        try:
            activate(name, SHIPPED, actor=actor)
        except ArtifactError as e:
            problems.append(f"{name}: {e}")
            continue
        done.append((name, version))
    if problems:
        raise VersionError("Could not go back to the shipped version of " + "; ".join(problems))
    return done


def migrate_legacy(name: str) -> None:
    """A folder from before versions (`<cache>/models/<name>/`) becomes one user version."""
    old_root = user_models_dir()
    if not (old_root / name).is_dir():
        return
    try:
        art = load_artifact(name, old_root, "user")  # also finishes an interrupted swap
    except ArtifactError:
        art = None
    old = old_root / name
    if art is None and not (old / MANIFEST_FILE).exists():
        return  # nothing that was ever a complete artifact
    created = (art.manifest.get("created_utc") if art else None) or ""
    try:
        when = dt.datetime.fromisoformat(created)
    except ValueError:
        when = dt.datetime.fromtimestamp(old.stat().st_mtime, dt.UTC)
    target = versions_dir(name) / new_version_id(when)
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):  # another process moved it first
        os.replace(old, target)
    changed()


# --------------------------------------------------------------------------- in words


def started_by(manifest: Manifest) -> str:
    who = starter(manifest)
    if who is None:  # shipped, or a run from before versions: unknown
        return ""
    name = (who.get("name") or "").strip()
    via = who.get("via") or ""
    if via == "cli":
        return f"{name} (command line)" if name else "the command line"
    return name or "someone in the app"


def run_owner_id(manifest: Manifest) -> str | None:
    """The id of whoever started the run (the manifest's started_by "session": the person's
    id in the app, "cli" from the command line); None for shipped runs and old runs."""
    who = starter(manifest)
    owner = who.get("session") if who is not None else None
    return owner if isinstance(owner, str) and owner else None


def is_own(manifest: Manifest, actor_id: str) -> bool:
    """Started by this person (the app lets a student delete only their own runs)."""
    return bool(actor_id) and run_owner_id(manifest) == actor_id


def may_delete(actor: Actor, manifest: Manifest, version: str | None = None) -> bool:
    """Whether `actor` may delete the run with this manifest (the Models page's button): the
    teacher any run (a damaged one's manifest is {}), anyone else their own. Never the shipped
    version. Give the version's id when known: without it, a manifest that names neither a
    version id nor who started it is taken for the shipped one (as is a run from before
    versions: the teacher deletes that one with its id given)."""
    if version == SHIPPED or manifest.get("version_id") == SHIPPED:
        return False
    if version is None and manifest and not manifest.get("version_id") and not starter(manifest):
        return False
    return may_manage(actor, run_owner_id(manifest))


def recipe_changes(manifest: Manifest) -> str:
    """How a run departed from its registry recipe, in words: '5 epochs instead of 10, on
    10,000 images'; 'the full recipe' when it did not."""
    if not manifest:
        return ""
    try:
        recipe = get_spec(manifest.get("name", "")).recipe
    except UnknownModelError:
        return ""
    used = manifest.get("recipe") or {}
    parts = []
    for key, words in (
        ("epochs", "{} instead of {}"),
        ("augment_epochs", "{} augmented instead of {}"),
        ("batch_size", "batch {} instead of {}"),
    ):
        value, default = used.get(key, getattr(recipe, key)), getattr(recipe, key)
        if value != default:
            if key == "batch_size":
                parts.append(words.format(value, default))
            else:
                parts.append(words.format(_epochs(value), default))
    if (used.get("kfold") or 0) != (recipe.kfold or 0):
        parts.append(f"{used['kfold']}-fold cross-validation" if used.get("kfold") else "no k-fold")
    if manifest.get("limit"):
        parts.append(f"on {manifest['limit']:,} images")
    if manifest.get("seed"):
        parts.append(f"seed {manifest['seed']}")
    return ", ".join(parts) or "the full recipe"


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def version_label(art: Artifact) -> str:
    """'shipped', or 'run 20261129-031522-a3f1 by Ms Lovelace'."""
    if art.version == SHIPPED:
        return "shipped"
    who = started_by(art.manifest)
    return f"run {art.version}" + (f" by {who}" if who else "")
