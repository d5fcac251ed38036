"""Themes are someone else's code: templates run sandboxed and see no secrets."""

from __future__ import annotations

import os
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jinja2.sandbox import SandboxedEnvironment

from digest.errors import RenderError
from digest.render.email import issue_context, render_issue
from digest.render.environment import make_environment
from tests.helpers import make_config, make_issue, write_override

SECRET = "s3cret-smtp-password-never-in-mail"

ESCAPES = [
    "{{ t.__init__.__globals__ }}",
    "{{ t.longdate.__func__.__globals__['format_date'] }}",
    "{{ cycler.__init__.__globals__.os.environ }}",
    "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].environ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ self._TemplateReference__context }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ '{0.__class__.__init__.__globals__}'.format(t) }}",
    "{{ stories[0].summary.__class__.__base__.__subclasses__() }}",
    "{{ range.__self__ }}",
]


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", SECRET)
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)


def test_every_template_environment_is_sandboxed(tmp_path: Path) -> None:
    assert isinstance(make_environment(make_config(tmp_path)), SandboxedEnvironment)


@pytest.mark.parametrize("attack", ESCAPES)
@pytest.mark.parametrize("template", ["subject.txt.j2", "digest.txt.j2", "digest.mjml.j2"])
def test_a_theme_cannot_reach_python_internals(tmp_path: Path, template: str, attack: str) -> None:
    write_override(tmp_path, template, f"line one\n{attack}\n")
    with pytest.raises(RenderError, match=rf"{template.replace('.', '[.]')}, line 2: ") as caught:
        render_issue(make_issue(), make_config(tmp_path))
    assert SECRET not in str(caught.value)


def _reachable(value: Any, depth: int = 0, seen: set[int] | None = None) -> Iterator[Any]:
    """Everything a template can reach from `value` through public attributes and items."""
    seen = set() if seen is None else seen
    if id(value) in seen or depth > 4:
        return
    seen.add(id(value))
    yield value
    if isinstance(value, str | bytes | int | float | bool | type(None)):
        return
    children: list[Any] = []
    if isinstance(value, dict):
        children += list(value.values())
    elif isinstance(value, list | tuple | set | frozenset):
        children += list(value)
    for name in dir(value):
        if name.startswith("_"):
            continue  # the sandbox refuses these
        try:
            children.append(getattr(value, name))
        except Exception:  # a property that fails reaches nothing
            continue
    for child in children:
        yield from _reachable(child, depth + 1, seen)


def test_nothing_in_the_context_reaches_the_environment_or_a_module(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    env = make_environment(config)
    roots = {"context": issue_context(make_issue(), config), "globals": dict(env.globals)}
    for value in _reachable(roots):
        assert not isinstance(value, types.ModuleType), value
        assert value is not os.environ
        assert not (isinstance(value, str) and SECRET in value)


def test_a_theme_still_formats_with_filters_and_words(tmp_path: Path) -> None:
    write_override(
        tmp_path,
        "subject.txt.j2",
        "{{ title }} {{ date|isodate }} {{ t.plural('comments', 2) }} {{ range(3)|list }}",
    )
    subject = render_issue(make_issue(), make_config(tmp_path)).subject
    assert subject == "The Insider 2026-11-26 2 comments [0, 1, 2]"
