"""The viewer in headless Chromium: connect, approve, sync, and see tracks drawn on the map."""

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
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BACKGROUND = (0xF5, 0xF3, 0xEE)  # the style's background-color in web/app.js

# Pixels of the map canvas that are clearly not the plain background (lines, in any type colour).
COUNT_TRACK_PIXELS = """
(bg) => {
  const source = window.ridelines.map.getCanvas();
  const copy = document.createElement("canvas");
  copy.width = source.width; copy.height = source.height;
  const ctx = copy.getContext("2d");
  ctx.drawImage(source, 0, 0);
  const data = ctx.getImageData(0, 0, copy.width, copy.height).data;
  let count = 0;
  for (let i = 0; i < data.length; i += 4) {
    const d = Math.abs(data[i] - bg[0]) + Math.abs(data[i + 1] - bg[1]) + Math.abs(data[i + 2] - bg[2]);
    if (data[i + 3] > 0 && d > 90) count++;
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


def test_connect_sync_and_see_the_rides_on_the_map(local_stack: Any, browser: Any) -> None:
    base = local_stack.url
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    outside: list[str] = []
    page.on(
        "request",
        lambda req: (
            outside.append(req.url)
            if not req.url.startswith(("http://127.0.0.1", "data:", "blob:"))
            else None
        ),
    )
    try:
        page.goto(base)
        page.get_by_role("button", name="Connect with intervals.icu").click()
        page.wait_for_selector("text=local stand-in")  # the stand-in's consent page
        page.get_by_role("button", name="Authorize").click()

        page.wait_for_selector("#signed-in:not([hidden])")
        assert page.text_content("#athlete") == "Demo Rider"
        assert "token=" not in page.url  # the fragment is cleared once read

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
        pixels = page.evaluate(COUNT_TRACK_PIXELS, list(BACKGROUND))
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

        # Zoom to one ride, then click it for its popup with the link
        # to the activity on intervals.icu.
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
        assert page.evaluate(COUNT_TRACK_PIXELS, list(BACKGROUND))["count"] < pixels["count"] / 20
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

        assert not errors, errors
        assert not outside, f"the viewer loaded something from the internet: {outside}"
    finally:
        page.close()


def test_an_expired_session_offers_connect_again(local_stack: Any, browser: Any) -> None:
    page = browser.new_page()
    try:
        page.goto(f"{local_stack.url}/#token=not-a-valid-token")
        page.wait_for_selector("#signed-out:not([hidden])")
        assert "connect again" in (page.text_content("#message") or "").lower()
        assert page.evaluate("sessionStorage.getItem('ridelines.token')") is None
    finally:
        page.close()


def test_a_denied_consent_is_explained(local_stack: Any, browser: Any) -> None:
    page = browser.new_page()
    try:
        page.goto(local_stack.url)
        page.get_by_role("button", name="Connect with intervals.icu").click()
        page.get_by_role("button", name="Deny").click()
        page.wait_for_selector("#message:not([hidden])")
        assert "not granted" in (page.text_content("#message") or "")
        assert page.is_visible("#connect")
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
