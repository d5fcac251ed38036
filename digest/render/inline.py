"""MJML → HTML (mjml-python) and CSS inlining (premailer) that keeps what email needs.

MRML does not inline `<mj-style inline="inline">`, so premailer copies the
theme's rules into style attributes. It must leave alone what only works in
`<head>`: the `@media` queries with their `!important` (the responsive and
dark-mode layout), and Outlook's conditional comments.
"""

from __future__ import annotations

import functools
import logging
import re

import cssutils
import mjml
from premailer import Premailer

from digest.errors import RenderError


def _tidy_head(match: re.Match[str]) -> str:
    return re.sub(r">\s+<", ">\n<", match.group(0))


def mjml_to_html(source: str) -> str:
    """Compile MJML to HTML, without remote fonts."""
    # mrml rejects whitespace between <mj-head> children unless it starts with a newline.
    source = re.sub(r"<mj-head>.*?</mj-head>", _tidy_head, source, count=1, flags=re.S)
    try:
        return str(mjml.mjml2html(source, fonts={}))
    except ValueError as e:
        where = ""
        position = re.search(r"position (\d+)", str(e))
        if position:  # a byte offset into the templated MJML
            before = source.encode()[: int(position.group(1))].decode(errors="replace")
            line = before.count("\n") + 1
            where = f", MJML line {line}: {source.splitlines()[line - 1].strip()[:80]!r}"
        raise RenderError(f"digest.mjml.j2: invalid MJML after templating{where}: {e}") from e


@functools.cache
def _quiet_cssutils() -> None:
    # cssutils reports every property it does not know (mso-*, -webkit-*) at WARNING and
    # ERROR, hundreds of lines per issue; premailer's own switch covers only its handler.
    cssutils.log.setLevel(logging.CRITICAL)
    # Its value checks compile a pattern per CSS property on first use (~0.2 s a build)
    # only to log what it keeps anyway: the inlined HTML is the same without them.
    cssutils.profile.removeProfile(all=True)


def inline_css(html: str) -> str:
    """Copy the theme's CSS into style attributes, keeping <style> and conditional comments."""
    _quiet_cssutils()
    # premailer keeps the doctype only when it matches lxml's spelling exactly.
    html = re.sub(r"^\s*<!doctype html>", "<!DOCTYPE html>", html, count=1, flags=re.I)
    # mjml's reset rules stay in <head>: inlined into every table cell they add ~20 KB.
    ignored = '<style type="text/css" data-premailer="ignore">'
    html = re.sub(r'<style type="text/css">(?=\s*#outlook a)', ignored, html, count=1)
    premailer = Premailer(
        html,
        keep_style_tags=True,
        strip_important=False,
        remove_classes=False,
        disable_validation=True,
        allow_network=False,
        cssutils_logging_level=logging.CRITICAL,
        # Else `width: 100%; height: auto` would overwrite an image's pixel width and height
        # attributes, which Outlook needs to size it.
        disable_basic_attributes=["width", "height"],
    )
    return str(premailer.transform())
