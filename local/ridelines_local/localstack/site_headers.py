"""The security headers the local origin adds to every answer, like the distribution's response
headers policy (DESIGN 3.1).

Stand-in until the stacks' single definition (``ridelines.site.headers``, written with the
CloudFront response headers policy) lands; then this module should import that one instead of
keeping its own copy, so the local stack and the distribution cannot drift.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def content_security_policy(basemap_style_url: str | None = None) -> str:
    """No inline script or style, nothing from another origin except an optional basemap's."""
    connect = ["'self'"]
    if basemap_style_url:
        parts = urlsplit(basemap_style_url)
        if parts.scheme in ("https", "http") and parts.netloc:
            connect.append(f"{parts.scheme}://{parts.netloc}")
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        f"connect-src {' '.join(connect)}",
        "worker-src 'self' blob:",  # MapLibre runs its workers from a blob URL
        "child-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


def security_headers(basemap_style_url: str | None = None) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(basemap_style_url),
        "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
