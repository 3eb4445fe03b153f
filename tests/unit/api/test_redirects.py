"""redirect_path: only a same-site relative path may survive the login round trip."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ridelines.auth.redirects import (
    MAX_REDIRECT_PATH_LENGTH,
    InvalidRedirectPath,
    site_redirect,
    validate_redirect_path,
)

SITE = "https://site.example"


@pytest.mark.parametrize("path", ["/", "/map", "/map?year=2024&type=Ride", "/a/b.c/~d", "/x%20y", "/@me"])
def test_same_site_paths_are_kept(path: str) -> None:
    assert validate_redirect_path(path) == path


@pytest.mark.parametrize("path", [None, ""])
def test_missing_path_means_home(path: str | None) -> None:
    assert validate_redirect_path(path) == "/"


def test_protocol_relative_url_is_rejected() -> None:
    with pytest.raises(InvalidRedirectPath):
        validate_redirect_path("//evil.example")


def test_absolute_url_is_rejected() -> None:
    with pytest.raises(InvalidRedirectPath):
        validate_redirect_path("https://evil.example")


def test_backslash_url_is_rejected() -> None:
    with pytest.raises(InvalidRedirectPath):
        validate_redirect_path("/\\evil.example")


def test_percent_encoded_double_slash_is_rejected() -> None:
    with pytest.raises(InvalidRedirectPath):
        validate_redirect_path("/%2F%2Fevil.example")


def test_percent_encoded_leading_slash_pair_is_rejected() -> None:
    with pytest.raises(InvalidRedirectPath):
        validate_redirect_path("%2F%2Fevil.example")


def test_percent_encoded_backslash_is_rejected() -> None:
    with pytest.raises(InvalidRedirectPath):
        validate_redirect_path("/%5Cevil.example")


def test_double_encoded_slashes_are_rejected() -> None:
    with pytest.raises(InvalidRedirectPath):
        validate_redirect_path("/%252F%252Fevil.example")


@pytest.mark.parametrize(
    "path",
    [
        "evil.example",  # no leading slash: would glue onto the frontend host
        "javascript:alert(1)",
        "/\tevil",
        "/%09/evil.example",  # tab, stripped by browsers
        "/%0d%0aSet-Cookie:x",  # header injection
        "/x#frag",  # we own the fragment
        "/%23frag",
        "/ space",
        "/%ff",  # not UTF-8 once decoded
        "/" + "a" * MAX_REDIRECT_PATH_LENGTH,
        "/a//b",
    ],
)
def test_other_unsafe_paths_are_rejected(path: str) -> None:
    with pytest.raises(InvalidRedirectPath):
        validate_redirect_path(path)


@given(st.text(max_size=80))
def test_any_accepted_path_stays_on_the_site(path: str) -> None:
    try:
        accepted = validate_redirect_path(path)
    except InvalidRedirectPath:
        return
    url = site_redirect(SITE, accepted)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "site.example")
    assert parts.fragment == ""


@given(
    st.sampled_from(["/", "//", "\\", "%2F", "%5C", "%2f", "%5c", "%25", "evil.example", "a", ":", "@"]).map(
        str
    )
)
def test_building_blocks_never_escape(block: str) -> None:
    path = "/" + block * 3
    try:
        accepted = validate_redirect_path(path)
    except InvalidRedirectPath:
        return
    assert urlsplit(site_redirect(SITE, accepted)).netloc == "site.example"
