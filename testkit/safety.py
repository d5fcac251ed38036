"""What "nothing executable or remotely fetched" means for an email body."""

from __future__ import annotations

import re

from lxml import html as lxml_html

FORBIDDEN_TAGS = {
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input",
    "button", "textarea", "select", "base", "svg", "math", "audio", "video", "source", "portal",
}  # fmt: skip
URL_ATTRIBUTES = {
    "href",
    "src",
    "action",
    "formaction",
    "background",
    "poster",
    "srcset",
    "xlink:href",
}
BAD_CSS = re.compile(
    r"expression\s*\(|javascript:|behavior\s*:|-moz-binding|@import|url\s*\(", re.I
)


def unsafe_parts(markup: str) -> list[str]:
    """Every executable or remotely fetched thing in `markup` except http(s) images and links."""
    problems: list[str] = []
    doc = lxml_html.document_fromstring(markup)
    for element in doc.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.lower()
        if tag in FORBIDDEN_TAGS:
            problems.append(f"<{tag}>")
        if tag == "meta" and (element.get("http-equiv") or "").lower() == "refresh":
            problems.append("<meta refresh>")
        if tag == "link" and "stylesheet" in (element.get("rel") or "").lower():
            problems.append(f"<link stylesheet {element.get('href')}>")
        for name, value in element.attrib.items():
            lower = name.lower()
            if lower.startswith("on"):
                problems.append(f"<{tag} {name}>")
            if lower in URL_ATTRIBUTES:
                target = value.strip().lower()
                if not (target.startswith(("http://", "https://", "mailto:", "#")) or not target):
                    problems.append(f"<{tag} {name}={value[:60]!r}>")
            if lower == "style" and BAD_CSS.search(value):
                problems.append(f"<{tag} style={value[:60]!r}>")
        if tag == "style" and BAD_CSS.search(element.text or ""):
            problems.append("<style> with remote or executable CSS")
    return problems
