"""The site's security headers, one definition for CloudFront (stacks) and the local stack.

MapLibre needs ``worker-src blob:`` (its worker is built from a blob URL) and ``img-src data: blob:``
(sprites and raster tiles decoded in the page); it styles its DOM through the CSSOM
(``element.style.x = ...``), which ``style-src`` does not govern, so no ``'unsafe-inline'`` is needed.
The only other origin allowed is the configured basemap style's (its style, tiles, glyphs and sprites).
"""

from __future__ import annotations

from urllib.parse import urlsplit

HSTS_MAX_AGE_SECONDS = 2 * 365 * 24 * 3600
REFERRER_POLICY = "no-referrer"
FRAME_OPTIONS = "DENY"
DEFAULT_BASEMAP_STYLE_URL = "https://tiles.openfreemap.org/styles/liberty"


def basemap_origins(basemap_style_url: str | None) -> list[str]:
    """``https://host[:port]`` of the basemap style (its tiles, glyphs and sprites share that host)."""
    if not basemap_style_url:
        return []
    parts = urlsplit(basemap_style_url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"basemap_style_url must be an https:// URL, got {basemap_style_url!r}")
    return [f"https://{parts.netloc}"]


def content_security_policy(basemap_style_url: str | None) -> str:
    """The CSP string every answer of the site carries (CloudFront and the local stack)."""
    extra = " ".join(basemap_origins(basemap_style_url))
    with_basemap = f" {extra}" if extra else ""
    directives = [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src 'self' data: blob:{with_basemap}",
        "font-src 'self'",
        f"connect-src 'self'{with_basemap}",
        "worker-src 'self' blob:",
        "child-src 'self' blob:",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ]
    return "; ".join(directives)


def security_headers(basemap_style_url: str | None) -> dict[str, str]:
    """Every security header by name, for a server that sets them itself (the local stack)."""
    return {
        "Content-Security-Policy": content_security_policy(basemap_style_url),
        "Strict-Transport-Security": f"max-age={HSTS_MAX_AGE_SECONDS}; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": FRAME_OPTIONS,
        "Referrer-Policy": REFERRER_POLICY,
    }
