"""The theme's colours, fonts and logo from `[theme]`, with the shades derived from them.

The values go into CSS verbatim: load_config has checked them and written
every colour as "#rrggbb" and every font list as names, commas and quotes
(digest/config/checks.py), so nothing here parses them again.
"""

from __future__ import annotations

from typing import TypedDict

from digest.config import ThemeSettings


class ThemeContext(TypedDict):
    brand: str  # accent: top rule, buttons, links
    text: str
    muted: str  # bylines, dates, footer (7:1 on white)
    background: str  # around the column
    quote: str  # comment blocks
    dark_background: str  # prefers-color-scheme: dark and Outlook's [data-ogsb]
    dark_surface: str
    dark_text: str
    dark_muted: str
    dark_brand: str  # the accent lightened until it reads on the dark surface
    serif: str
    sans: str
    logo: str  # http(s) or ""
    logo_width: int
    logo_height: int
    footer_text: str


def _mix(colour: str, other: str, amount: float) -> str:
    """Return `colour` moved `amount` (0–1) of the way towards `other`."""
    a, b = _rgb(colour), _rgb(other)
    return "#" + "".join(f"{round(x + (y - x) * amount):02x}" for x, y in zip(a, b, strict=True))


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def contrast(foreground: str, background: str) -> float:
    """Return the WCAG 2 contrast ratio of two #rrggbb colours (1–21)."""

    def luminance(colour: str) -> float:
        channels = [c / 255 for c in _rgb(colour)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def theme_context(theme: ThemeSettings, logo: str) -> ThemeContext:
    """Return the theme's colours and fonts (checked at load) and the dark-mode shades.

    `logo` is the logo URL, already checked to be http(s) (or "").
    """
    dark_surface = "#1c1c1e"
    dark_brand = theme.brand_color
    for step in range(1, 11):  # lighten the accent until it reads on the dark surface
        if contrast(dark_brand, dark_surface) >= 4.5:
            break
        dark_brand = _mix(theme.brand_color, "#ffffff", step / 10)
    return ThemeContext(
        brand=theme.brand_color,
        text=theme.text_color,
        muted="#4d4d4d",
        background=theme.background_color,
        quote="#f6f4f1",
        dark_background="#111111",
        dark_surface=dark_surface,
        dark_text="#e8e6e3",
        dark_muted="#b5b1ab",
        dark_brand=dark_brand,
        serif=theme.serif_font,
        sans=theme.sans_font,
        logo=logo,
        logo_width=theme.logo_width,
        logo_height=theme.logo_height,
        footer_text=theme.footer_text,
    )
