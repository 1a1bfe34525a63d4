"""Links that reopen a view.

A page reads its view from the address once, when it is entered (a fresh load, a pasted
link, a link from another page), and writes the view back to the address on every run, so
the address bar is always a link to what is on screen. A value the page cannot use (an
unknown model, class or version) is ignored and named in one line.

    link = ViewLink()
    link.start("cm_model", default=best, param="model", parse=link.model(choices))
    ...widgets with those keys...
    link.keep(model=st.session_state["cm_model"])
    link.say_what_was_ignored()
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import streamlit as st

from fmnist_core.classes import CLASS_NAMES

_PAGE = "_link_page"  # the page the previous run showed (app.py's note_page)
_ENTERED = "_link_entered"  # whether this run entered the page
_SEEN = "_link_seen"  # pages seen in this session, when no app.py keeps the page (AppTest)


class LinkValueError(ValueError):
    """A link's value the page cannot use; its message says why, in a few words."""


def note_page(url_path: str) -> None:
    """app.py, every run: remember whether this run entered the page (so its link applies)."""
    st.session_state[_ENTERED] = st.session_state.get(_PAGE) != url_path
    st.session_state[_PAGE] = url_path


def _entered(page: str) -> bool:
    if _ENTERED in st.session_state:
        return bool(st.session_state[_ENTERED])
    seen = st.session_state.setdefault(_SEEN, set())  # a page run on its own (tests)
    if page in seen:
        return False
    seen.add(page)
    return True


def class_index(text: str) -> int:
    """A class by its name (any case, punctuation optional: 'Pullover', 't-shirt/top',
    'ankle boot', 'ankleboot') or its index ('2')."""
    text = text.strip()
    if text.isdigit() and int(text) < len(CLASS_NAMES):
        return int(text)
    wanted = _squash(text)
    for i, name in enumerate(CLASS_NAMES):
        if wanted in (_squash(name), _squash(name.split("/")[0])):
            return i
    raise LinkValueError("not a class")


def _squash(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


class ViewLink:
    """One page's link: the values read when the page was entered, and those it ignored."""

    def __init__(self, page: str | None = None) -> None:
        self.page = page or st.session_state.get(_PAGE) or "page"
        self.entered = _entered(self.page)
        self.ignored: list[str] = []

    def get(self, param: str, parse: Callable[[str], Any]) -> Any:
        """The link's value of `param`, parsed, when the page was just entered; else None.
        A value `parse` refuses (LinkValueError) is remembered for say_what_was_ignored()."""
        if not self.entered:
            return None
        raw = st.query_params.get(param)
        if raw is None or raw == "":
            return None
        try:
            return parse(raw)
        except LinkValueError as e:
            self.ignored.append(f"{param}={raw!r} ({e})")
            return None

    def get_list(self, param: str, parse: Callable[[str], Any]) -> list | None:
        """A comma-separated list, each part parsed by `parse`: the usable ones (None when
        there are none); each refused part is named by say_what_was_ignored()."""
        if not self.entered or not st.query_params.get(param):
            return None
        found = []
        for part in filter(None, (p.strip() for p in st.query_params[param].split(","))):
            try:
                value = parse(part)
            except LinkValueError as e:
                self.ignored.append(f"{param}: {part!r} ({e})")
                continue
            if value not in found:
                found.append(value)
        return found or None

    def start(
        self, key: str, default: Any, param: str, parse: Callable[[str], Any], many: bool = False
    ) -> Any:
        """Put the view's starting value in st.session_state[key] (a widget's key): the link's
        when it has a usable one, else what the key holds, else `default` (a value, or a
        function that makes it). `many`: the parameter is a comma-separated list."""
        linked = (self.get_list if many else self.get)(param, parse)
        if linked is not None:
            st.session_state[key] = linked
        elif key not in st.session_state:
            st.session_state[key] = default() if callable(default) else default
        return st.session_state[key]

    def keep(self, **params: Any) -> None:
        """Write the view into the address: each value as text, a list comma-separated, None
        removes the parameter. Only what changed is sent to the browser."""
        for param, value in params.items():
            if value is None:
                if param in st.query_params:
                    del st.query_params[param]
                continue
            text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
            if st.query_params.get(param) != text:
                st.query_params[param] = text

    def say_what_was_ignored(self) -> None:
        if self.ignored:
            st.info(
                "This link's "
                + _and(self.ignored)
                + (" was" if len(self.ignored) == 1 else " were")
                + " ignored; the page shows its usual view there instead.",
                icon=":material/link_off:",
            )

    # parsers for the values pages link to

    @staticmethod
    def model(choices: Iterable[str], aliases: Mapping[str, str] | None = None) -> Callable:
        """A model or a version of one: one of `choices` (names, 'name@version'), any case;
        `aliases` maps other spellings (the version in use as 'name@version') to a choice."""
        by_lower = {c.lower(): c for c in choices}
        by_lower.update({a.lower(): c for a, c in (aliases or {}).items() if c in choices})

        def parse(text: str) -> str:
            found = by_lower.get(text.strip().lower())
            if found is None:
                if "@" in text:
                    raise LinkValueError("no such version")
                raise LinkValueError("not a model here")
            return found

        return parse

    @staticmethod
    def class_name(text: str) -> str:
        return CLASS_NAMES[class_index(text)]

    @staticmethod
    def one_of(options: Iterable[str]) -> Callable:
        """One of `options`, any case."""
        by_lower = {str(o).lower(): o for o in options}

        def parse(text: str) -> Any:
            found = by_lower.get(text.strip().lower())
            if found is None:
                raise LinkValueError("one of " + ", ".join(map(str, by_lower.values())))
            return found

        return parse

    @staticmethod
    def whole_number(low: int, high: int) -> Callable:
        def parse(text: str) -> int:
            text = text.strip()
            if not text.isdigit() or not low <= int(text) <= high:
                raise LinkValueError(f"not a number from {low:,} to {high:,}")
            return int(text)

        return parse

    @staticmethod
    def number(low: float, high: float) -> Callable:
        def parse(text: str) -> float:
            try:
                value = float(text)
            except ValueError:
                value = float("nan")
            if not low <= value <= high:
                raise LinkValueError(f"not a number from {low:g} to {high:g}")
            return value

        return parse


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def copy_link_button(label: str = "Copy link", key: str = "copy_link") -> None:
    """A button that copies the address of the view on screen (the address bar's, read when
    it is pressed) to the clipboard; where the browser refuses (an http:// address other than
    localhost), it shows the link selected, to copy by hand."""
    st.html(
        f"""
<div class="fmnist-copy-link" id="{html.escape(key)}">
  <button type="button" title="Copy a link that opens this view, to paste in a chat or an email">
    <span class="icon" aria-hidden="true">link</span><span class="label">{html.escape(label)}</span>
  </button>
  <input type="text" readonly aria-label="The link to this view" style="display:none">
</div>
<style>
.fmnist-copy-link button {{
  font: inherit; font-size: 0.95rem; line-height: 1.6; cursor: pointer; white-space: nowrap;
  padding: 0.25rem 0.75rem; border-radius: 0.5rem; color: inherit;
  background: transparent; border: 1px solid rgba(49, 51, 63, 0.2);
  display: inline-flex; align-items: center; gap: 0.4rem;
}}
.fmnist-copy-link .icon {{
  font-family: "Material Symbols Rounded"; font-size: 1.15rem; font-weight: 400;
  line-height: 1; -webkit-font-feature-settings: "liga"; font-feature-settings: "liga";
}}
.fmnist-copy-link button:hover {{ border-color: #ff4b4b; color: #ff4b4b; }}
.fmnist-copy-link input {{ width: 100%; margin-top: 0.3rem; font-size: 0.8rem; }}
</style>
<script>
(() => {{
  const box = document.getElementById({json.dumps(key)});
  if (!box || box.dataset.ready) return;
  box.dataset.ready = "1";
  const button = box.querySelector("button"), label = box.querySelector(".label");
  const field = box.querySelector("input");
  const said = (text) => {{
    label.textContent = text;
    setTimeout(() => (label.textContent = {json.dumps(label)}), 2000);
  }};
  const byHand = (url) => {{
    field.value = url; field.style.display = "block"; field.focus(); field.select();
    try {{ if (document.execCommand("copy")) return said("Copied"); }} catch (e) {{}}
    said("Copy it below");
  }};
  button.addEventListener("click", () => {{
    const url = window.location.href;
    if (navigator.clipboard && window.isSecureContext) {{
      navigator.clipboard.writeText(url).then(() => said("Copied"), () => byHand(url));
    }} else {{
      byHand(url);
    }}
  }});
}})();
</script>
""",
        unsafe_allow_javascript=True,
        width="content",
    )


def title_with_link(title: str, key: str = "copy_link") -> None:
    """The page's title with a Copy link button beside it."""
    head, button = st.columns([5, 1], vertical_alignment="center")
    head.title(title)
    with button:
        copy_link_button(key=key)


def link_to(page: str, label: str, icon: str | None = None, **params: Any) -> None:
    """A link to another page's view (st.page_link with its parameters). A page run on its
    own, without app.py's navigation (AppTest of one page), gets a plain link instead."""
    if _PAGE in st.session_state:
        st.page_link(page, label=label, icon=icon, query_params=params or None)
        return
    path = "/" + page.removeprefix("pages/").removesuffix(".py")
    query = "&".join(f"{k}={v}" for k, v in params.items())
    st.markdown(f"[{label}]({path}{'?' + query if query else ''})")
