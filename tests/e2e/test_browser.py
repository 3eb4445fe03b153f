"""The web app in headless Chromium against the real local stack: connect, approve, sync, see the
tracks on the map, sign out, connect again; a POST from another origin is refused."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Software WebGL (SwiftShader through ANGLE): there is no GPU in CI.
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
# Software rendering costs per pixel: big enough for the panel and a map, no bigger.
VIEWPORT = {"width": 1024, "height": 640}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TRACK_COLOURS = [
    [0xD7, 0x30, 0x1F],
    [0x1B, 0x78, 0x37],
    [0x8C, 0x51, 0x0A],
    [0x40, 0x40, 0x40],
]  # TYPE_COLOURS in web/app.js

# Pixels of the map canvas close to a ride colour (the basemap's land, water and borders are not).
COUNT_TRACK_PIXELS = """
(colours) => {
  const source = window.ridelines.map.getCanvas();
  const copy = document.createElement("canvas");
  copy.width = source.width; copy.height = source.height;
  const ctx = copy.getContext("2d");
  ctx.drawImage(source, 0, 0);
  const data = ctx.getImageData(0, 0, copy.width, copy.height).data;
  let count = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (colours.some((c) => Math.abs(data[i] - c[0]) + Math.abs(data[i + 1] - c[1]) + Math.abs(data[i + 2] - c[2]) < 60)) count++;
  }
  return {count, width: copy.width, height: copy.height};
}
"""

# The page position of the middle vertex of a track drawn on screen (to click it), and its id.
A_POINT_ON_A_TRACK = """
() => {
  const map = window.ridelines.map;
  const box = map.getCanvas().getBoundingClientRect();
  for (const f of map.queryRenderedFeatures({layers: ["activities-line"]})) {
    const lines = f.geometry.type === "LineString" ? [f.geometry.coordinates] : f.geometry.coordinates;
    const line = lines[Math.floor(lines.length / 2)];
    const p = map.project(line[Math.floor(line.length / 2)]);
    if (p.x > 20 && p.y > 20 && p.x < box.width - 20 && p.y < box.height - 20) {
      return {x: box.left + p.x, y: box.top + p.y};
    }
  }
  return null;
}
"""


MAP_SETTLED = """
() => {
  const m = window.ridelines.map;
  return Boolean(m.getSource("activities")) && m.isSourceLoaded("activities") && m.areTilesLoaded() && !m.isMoving();
}
"""

RENDERED_IDS = """
() => [...new Set(window.ridelines.map.queryRenderedFeatures({layers: ["activities-line"]})
  .map(f => String(f.properties.id)))].sort()
"""

# The demo's outdoor rides (ridelines_local.localstack.demo.SAMPLES): three around Toronto, two around
# Atlanta, about 1000 km apart.
TORONTO = ["a1", "a2", "a3"]
ATLANTA = ["a4", "a5"]

ZOOM_TO_ONE_RIDE = """
() => {
  const map = window.ridelines.map;
  window.overview = {center: map.getCenter(), zoom: map.getZoom()};
  const f = map.queryRenderedFeatures({layers: ["activities-line"]})[0];
  const lines = f.geometry.type === "LineString" ? [f.geometry.coordinates] : f.geometry.coordinates;
  const bounds = new maplibregl.LngLatBounds();
  for (const line of lines) for (const c of line) bounds.extend(c);
  map.fitBounds(bounds, {padding: 80, animate: false});
}
"""


@pytest.fixture(scope="module")
def browser() -> Any:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run `make browser` (Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


# Before any page script: collect CSP violations.
CSP_PROBE = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""
# The CSP the site sends (DESIGN 3.1); added to the app's page here when the local stack does not
# send one yet (site-app adds it to the local origin).
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; worker-src 'self'; child-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def with_strict_csp(page: Any, base: str) -> None:
    def handle(route: Any) -> None:
        response = route.fetch()
        headers = dict(response.headers)
        headers.setdefault("content-security-policy", STRICT_CSP)
        route.fulfill(response=response, headers=headers)

    page.route(re.compile(re.escape(base) + r"/(\?[^#]*)?(#.*)?$"), handle)


def bridge_token_sessions(page: Any, base: str) -> None:
    """Until the cookie sessions (site-app branch) are merged, the local stack's callback still
    hands the JWT over in a ``#token=`` fragment and its gateway reads only ``Authorization``. This
    does in the test what the site's edge does: carry the session to ``/api`` calls of the app's own
    pages (never another origin's), and end it on logout. With cookie sessions in place no fragment
    ever appears and this does nothing: delete it after the merge."""
    session: dict[str, str | None] = {"token": None}

    def remember(frame: Any) -> None:
        found = re.search(r"#token=([^&]+)", frame.url)
        if found:
            session["token"] = found.group(1)

    page.on("framenavigated", remember)

    def api(route: Any) -> None:
        remember(route.request.frame)
        if session["token"] and route.request.frame.url.startswith(base):
            route.continue_(headers={**route.request.headers, "authorization": f"Bearer {session['token']}"})
        else:
            route.continue_()

    def logout(route: Any) -> None:
        response = route.fetch()
        if response.status == 404 and session["token"]:  # no logout route yet
            session["token"] = None
            route.fulfill(status=204, body="")
        else:
            route.fulfill(response=response)

    page.route(f"{base}/api/**", api)
    page.route(f"{base}/auth/logout", logout)


def connect(page: Any, base: str) -> None:
    """Connect with intervals.icu from the app: the stand-in's consent page, approve, back signed in."""
    if not page.url.startswith(base):
        page.goto(base)
    page.get_by_role("button", name="Connect with intervals.icu").click()
    page.wait_for_selector("text=local stand-in")  # the stand-in's consent page
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_selector("#signed-in:not([hidden])")


def test_connect_sync_see_the_rides_sign_out_and_connect_again(local_stack: Any, browser: Any) -> None:
    base = local_stack.url
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(CSP_PROBE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    outside: list[str] = []
    page.on(
        "request",
        lambda req: (
            outside.append(req.url)
            if not req.url.startswith(("http://127.0.0.1", "data:", "blob:"))
            else None
        ),
    )
    with_strict_csp(page, base)
    bridge_token_sessions(page, base)
    try:
        connect(page, base)
        assert page.text_content("#athlete") == "Demo Rider"
        assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0  # no token kept
        assert page.evaluate("() => document.cookie") == ""  # the session is HttpOnly

        page.get_by_role("button", name="Sync").click()
        page.wait_for_selector('#sync-status[data-status="succeeded"]', timeout=120_000)
        assert "listed" in (page.text_content("#sync-status") or "")

        # Tiles arrive through the pmtiles protocol; wait until MapLibre has drawn them.
        page.wait_for_function(MAP_SETTLED, timeout=30_000)
        # The first view is the area with most rides (Toronto), not both cities as two dots.
        page.wait_for_function("() => !window.ridelines.state.focusPending", timeout=30_000)
        page.wait_for_function(MAP_SETTLED, timeout=30_000)
        page.wait_for_function(
            "() => window.ridelines.map.queryRenderedFeatures({layers: ['activities-line']}).length > 0",
            timeout=30_000,
        )
        page.wait_for_timeout(300)  # one more frame after the last tile
        pixels = page.evaluate(COUNT_TRACK_PIXELS, TRACK_COLOURS)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "map.png"))
        assert pixels["count"] > 150, pixels
        assert page.evaluate(RENDERED_IDS) == TORONTO
        assert page.evaluate("() => window.ridelines.map.getZoom()") >= 8  # a city, not a continent

        # "Show all rides" brings the other city into view.
        page.get_by_role("button", name="Show all rides").click()
        page.wait_for_function(
            f"() => ({RENDERED_IDS})().length === {len(TORONTO + ATLANTA)}", timeout=30_000
        )
        page.wait_for_function(MAP_SETTLED, timeout=30_000)
        assert page.evaluate(RENDERED_IDS) == sorted(TORONTO + ATLANTA)

        # Zoom to one ride, then click it for its popup with the link to the activity on intervals.icu.
        page.evaluate(ZOOM_TO_ONE_RIDE)
        page.wait_for_function(MAP_SETTLED, timeout=30_000)
        point = page.evaluate(A_POINT_ON_A_TRACK)
        assert point is not None
        page.mouse.click(point["x"], point["y"])
        link = page.wait_for_selector(".maplibregl-popup a", timeout=5_000)
        assert re.fullmatch(r"https://intervals\.icu/activities/a\d+", link.get_attribute("href") or "")
        assert "km" in (page.text_content(".maplibregl-popup") or "")
        page.screenshot(path=str(ARTIFACTS / "map-popup.png"))
        page.click(".maplibregl-popup-close-button")
        page.evaluate("() => window.ridelines.map.jumpTo(window.overview)")
        page.wait_for_function(MAP_SETTLED, timeout=30_000)

        # The filters know the types in the data; unticking every type clears the map.
        types = page.locator("#type-filters input[type=checkbox]")
        assert types.count() >= 1
        for i in range(types.count()):
            types.nth(i).uncheck()
        page.wait_for_timeout(500)
        assert page.evaluate(COUNT_TRACK_PIXELS, TRACK_COLOURS)["count"] < pixels["count"] / 20
        for i in range(types.count()):
            types.nth(i).check()

        # The year filter keeps only that year's rides.
        year = page.locator("#year-filter option").nth(1).get_attribute("value")
        page.select_option("#year-filter", value=year)
        page.wait_for_timeout(500)
        shown = page.evaluate(
            "() => [...new Set(window.ridelines.map.queryRenderedFeatures({layers: ['activities-line']})"
            ".map(f => String(f.properties.start).slice(0, 4)))]"
        )
        assert shown == [year]
        page.select_option("#year-filter", value="")

        # Sign out: the map is gone and the API answers 401; then connect again.
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_selector("#signed-out:not([hidden])")
        assert page.evaluate("() => Boolean(window.ridelines.map.getSource('activities'))") is False
        assert page.evaluate("() => fetch('/api/user').then(r => r.status)") == 401
        connect(page, base)
        page.wait_for_function(MAP_SETTLED, timeout=30_000)
        page.wait_for_function(
            "() => window.ridelines.map.queryRenderedFeatures({layers: ['activities-line']}).length > 0",
            timeout=30_000,
        )

        assert page.evaluate("() => window.__csp") == []
        assert not errors, errors
        assert not outside, f"the viewer loaded something from the internet: {outside}"
    finally:
        context.close()


def test_a_post_from_another_origin_is_refused(local_stack: Any, browser: Any) -> None:
    """A page on another origin (localhost, not 127.0.0.1) POSTs to /api/sync with the rider's
    cookies if the browser would send them: no sync starts (SameSite=Strict and the Origin check)."""
    base = local_stack.url
    context = browser.new_context()
    page = context.new_page()
    with_strict_csp(page, base)
    bridge_token_sessions(page, base)
    try:
        connect(page, base)
        read_sync = "() => fetch('/api/sync').then(async r => [r.status, await r.text()])"
        before = page.evaluate(read_sync)
        evil = context.new_page()
        evil.goto(f"{base.replace('127.0.0.1', 'localhost')}/evil")
        assert evil.evaluate("() => location.origin") != base
        evil.evaluate(
            """(url) => fetch(url, {method: "POST", mode: "no-cors", credentials: "include",
                 headers: {"Content-Type": "text/plain"}, body: '{"full": true}'}).then(() => true, () => false)""",
            f"{base}/api/sync",
        )
        page.wait_for_timeout(500)
        assert page.evaluate(read_sync) == before  # the evil page queued no sync
    finally:
        context.close()


def test_a_forged_session_cookie_offers_connect(local_stack: Any, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    # The browser sends a session cookie the site never issued.
    page.route(
        f"{local_stack.url}/api/**",
        lambda route: route.continue_(
            headers={**route.request.headers, "cookie": "__Host-ridelines-session=forged.jwt.value"}
        ),
    )
    try:
        page.goto(local_stack.url)
        page.wait_for_selector("#signed-out:not([hidden])")
        assert page.get_by_role("button", name="Connect with intervals.icu").is_visible()
        assert page.is_hidden("#panel")
        assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    finally:
        context.close()


def test_a_denied_consent_is_explained(local_stack: Any, browser: Any) -> None:
    page = browser.new_page()
    try:
        page.goto(local_stack.url)
        page.get_by_role("button", name="Connect with intervals.icu").click()
        page.get_by_role("button", name="Deny").click()
        page.wait_for_selector("#message:not([hidden])")
        assert "not granted" in (page.text_content("#message") or "")
        # the notice shows at once; the signed-out screen once the first /api/user answers 401
        # (under load, a moment later), and it keeps the notice
        page.wait_for_selector("#signed-out:not([hidden])")
        assert page.is_visible("#connect")
        assert "not granted" in (page.text_content("#message") or "")
    finally:
        page.close()


def test_the_first_view_is_the_area_with_most_rides(local_stack: Any, browser: Any) -> None:
    """``focusBounds`` on made-up ride extents: most rides win, a tie goes to the most recent."""
    page = browser.new_page()
    try:
        page.goto(local_stack.url)
        page.wait_for_function("() => Boolean(window.ridelines)")

        def ride(lon: float, lat: float, start: str) -> dict[str, Any]:
            return {"w": lon, "s": lat, "e": lon + 0.1, "n": lat + 0.1, "start": start}

        home = [ride(-79.5, 43.6, "2020-01-01"), ride(-79.2, 43.9, "2019-01-01"), ride(-79.6, 43.5, "2018")]
        trip = [ride(2.3, 48.8, "2025-06-01"), ride(2.4, 48.9, "2025-06-02")]

        def focus(rides: list[dict[str, Any]]) -> list[float] | None:
            bounds = page.evaluate("(rides) => window.ridelines.focusBounds(rides)", rides)
            return None if bounds is None else [*bounds[0], *bounds[1]]

        assert focus(home + trip) == pytest.approx([-79.6, 43.5, -79.1, 44.0])
        # one ride fewer at home: a tie, so the most recent area (the trip) wins
        assert focus(home[:2] + trip) == pytest.approx([2.3, 48.8, 2.5, 49.0])
        # a ride just across a cell border still belongs to the area
        assert focus([*home, ride(-80.3, 43.6, "2017")]) == pytest.approx([-80.3, 43.5, -79.1, 44.0])
        assert focus([]) is None
    finally:
        page.close()
