"""The site's CSP and security headers: one definition for CloudFront and the local stack (issue 9.7)."""

from __future__ import annotations

import pytest

from ridelines.site.headers import (
    DEFAULT_BASEMAP_STYLE_URL,
    basemap_origins,
    content_security_policy,
    security_headers,
)


def directives(csp: str) -> dict[str, list[str]]:
    parsed = {}
    for part in csp.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def test_scripts_and_styles_only_from_the_site_no_inline() -> None:
    csp = directives(content_security_policy(DEFAULT_BASEMAP_STYLE_URL))
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["default-src"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in content_security_policy(DEFAULT_BASEMAP_STYLE_URL)
    assert "'unsafe-eval'" not in content_security_policy(DEFAULT_BASEMAP_STYLE_URL)


def test_maplibre_needs_blob_workers_and_data_images() -> None:
    csp = directives(content_security_policy(None))
    assert csp["worker-src"] == ["'self'", "blob:"]
    assert csp["img-src"] == ["'self'", "data:", "blob:"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]


def test_the_basemap_origin_is_the_only_other_origin() -> None:
    csp = directives(content_security_policy("https://tiles.openfreemap.org/styles/liberty"))
    assert csp["connect-src"] == ["'self'", "https://tiles.openfreemap.org"]
    assert csp["img-src"][-1] == "https://tiles.openfreemap.org"
    others = {v for values in csp.values() for v in values if v.startswith("https://")}
    assert others == {"https://tiles.openfreemap.org"}


def test_a_port_is_kept_and_a_path_dropped() -> None:
    assert basemap_origins("https://maps.example.org:8443/a/style.json?key=1") == [
        "https://maps.example.org:8443"
    ]


@pytest.mark.parametrize("url", ["http://tiles.example/style.json", "javascript:alert(1)", "tiles.example"])
def test_a_non_https_basemap_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="https://"):
        content_security_policy(url)


def test_every_security_header() -> None:
    headers = security_headers(None)
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Strict-Transport-Security"].startswith("max-age=63072000")
    assert headers["Content-Security-Policy"] == content_security_policy(None)
    assert len(headers["Content-Security-Policy"]) < 1783  # CloudFront's CSP header value limit
