"""Checks of the values that reach the theme's CSS: colours and font lists.

The theme mixes and compares colours by their numbers, and whatever passes
here is written into a style sheet verbatim, so only a strict form gets in.
"""

from __future__ import annotations

import re

_HEX = re.compile(r"#([0-9a-f]{3}|[0-9a-f]{6})", re.I)
_CHANNEL = r"\s*(\d{1,3}(?:\.\d+)?%?)\s*"
_RGB = re.compile(rf"rgb\({_CHANNEL}(?:,{_CHANNEL},{_CHANNEL}|\s{_CHANNEL}\s{_CHANNEL})\)", re.I)
_COLOUR_FORMS = '"#rgb", "#rrggbb" or "rgb(r, g, b)"'


def colour(value: str) -> str:
    """A CSS colour as "#rrggbb": the theme mixes and compares colours by their numbers."""
    text = value.strip()
    if _HEX.fullmatch(text):
        digits = text[1:].lower()
        return "#" + ("".join(c * 2 for c in digits) if len(digits) == 3 else digits)
    rgb = _RGB.fullmatch(text)
    if rgb:
        channels = [c for c in rgb.groups() if c is not None]
        numbers = [float(c[:-1]) * 255 / 100 if c.endswith("%") else float(c) for c in channels]
        if all(0 <= n <= 255 for n in numbers):
            return "#" + "".join(f"{round(n):02x}" for n in numbers)
        raise ValueError("has a channel outside 0–255 (or 0–100 %)")
    named = _named_colour(text.lower())
    if named:
        raise ValueError(f'is a colour name: write it as "{named}" (the theme takes numbers)')
    raise ValueError(f"is not a colour: write {_COLOUR_FORMS}")


def _named_colour(name: str) -> str | None:
    """The hex of a CSS colour name (cssutils knows all 148), for the hint above."""
    if not name.isalpha():
        return None
    from cssutils.css.value import ColorValue  # ~70 ms: only for a config that needs it

    rgba = ColorValue.COLORS.get(name)
    if rgba is None or name == "transparent":
        return None
    return "#" + "".join(f"{c:02x}" for c in rgba[:3])


_QUOTED = re.compile(r"""'([\w .-]+)'|"([\w .-]+)\"""")
_UNQUOTED = re.compile(r"(?!\d)[\w-]+(?: [\w-]+)*")


def font_list(value: str) -> str:
    """A font-family list: names (quoted with ' or ") and commas, nothing else reaches CSS."""
    families = []
    for part in value.split(","):
        name = " ".join(part.split())
        quoted = _QUOTED.fullmatch(name)
        if quoted:
            families.append(f"'{quoted.group(1) or quoted.group(2)}'")
        elif _UNQUOTED.fullmatch(name):
            families.append(name)
        else:
            raise ValueError(
                "must be font names separated by commas, e.g. \"Georgia, 'Times New Roman', serif\""
                " (letters, digits, spaces and hyphens; quote names with spaces)"
            )
    return ", ".join(families)
