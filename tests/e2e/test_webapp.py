"""The web app in headless Chromium against a contract-shaped stand-in for the site (``websim``):
basemap, heatmap, explorer, rides list, URL state, stats, privacy panel, sessions, polling, CSP.

The flow against the real local stack (connect, sync, the map renders) is ``test_browser.py``; here
the server side is fixtures so each feature can be driven into every state quickly. Every page is
served with the site's strict CSP and every test fails on any CSP violation or page error.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import websim

pytestmark = [pytest.mark.e2e]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
# Software rendering costs per pixel: big enough for the panel and a map, no bigger.
VIEWPORT = {"width": 1024, "height": 640}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAND = (0xF4, 0xF1, 0xEA)  # BASEMAP.land in web/app.js
WATER = (0xA9, 0xCC, 0xE3)  # BASEMAP.water
EXPLORER_BLUE = (0x3F, 0x51, 0xB5)

# Before any page script: collect CSP violations (the event and Chromium's console line).
CSP_PROBE = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""

# Counts of canvas pixels near each colour (sum of channel differences <= tol), and the canvas size.
COUNT_COLOURS = """
([colours, tol]) => {
  const source = window.ridelines.map.getCanvas();
  const copy = document.createElement("canvas");
  copy.width = source.width; copy.height = source.height;
  const ctx = copy.getContext("2d");
  ctx.drawImage(source, 0, 0);
  const data = ctx.getImageData(0, 0, copy.width, copy.height).data;
  const counts = colours.map(() => 0);
  for (let i = 0; i < data.length; i += 4) {
    colours.forEach((c, k) => {
      if (Math.abs(data[i] - c[0]) + Math.abs(data[i + 1] - c[1]) + Math.abs(data[i + 2] - c[2]) <= tol) counts[k]++;
    });
  }
  return {counts, total: copy.width * copy.height};
}
"""

# The brightest luminance within 4 px of the screen position of [lon, lat].
BRIGHTEST_NEAR = """
(lngLat) => {
  const map = window.ridelines.map;
  const source = map.getCanvas();
  const ratio = source.width / source.clientWidth;
  const p = map.project(lngLat);
  const copy = document.createElement("canvas");
  copy.width = source.width; copy.height = source.height;
  const ctx = copy.getContext("2d");
  ctx.drawImage(source, 0, 0);
  const r = Math.round(4 * ratio);
  const data = ctx.getImageData(Math.round(p.x * ratio) - r, Math.round(p.y * ratio) - r, 2 * r + 1, 2 * r + 1).data;
  let best = 0;
  for (let i = 0; i < data.length; i += 4) best = Math.max(best, 0.2126 * data[i] + 0.7152 * data[i + 1] + 0.0722 * data[i + 2]);
  return best;
}
"""

SETTLED = """
() => {
  const m = window.ridelines && window.ridelines.map;
  if (!m || !m.getSource("activities") || window.ridelines.state.focusPending) return false;
  return m.isSourceLoaded("activities") && m.areTilesLoaded() && !m.isMoving();
}
"""

BASEMAP_SETTLED = """
() => {
  const m = window.ridelines && window.ridelines.map;
  return Boolean(m && m.getSource("land") && m.isSourceLoaded("land") && m.areTilesLoaded() && !m.isMoving()
    && m.queryRenderedFeatures({layers: ["land"]}).length > 0);
}
"""


@pytest.fixture(scope="module")
def tiles_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("webtiles")
    websim.tile(websim.generate_rides(60), folder / "map.pmtiles")
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run `make browser` (Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def site(tiles_dir: Path) -> Iterator[websim.SimSite]:
    sim = websim.SimSite(tiles_dir=tiles_dir, rides=websim.generate_rides(60))
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.add_init_script(CSP_PROBE)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    tab.on(
        "console",
        lambda msg: (
            problems.append(f"console: {msg.text}") if "Content Security Policy" in msg.text else None
        ),
    )
    tab.problems = problems
    try:
        yield tab
        violations = tab.evaluate("() => window.__csp || []")
        assert not violations, f"CSP violations: {violations}"
        assert not problems, problems
    finally:
        context.close()


def open_app(page: Any, site: websim.SimSite, hash_: str = "") -> None:
    """Sign in as the site does (login sets the session cookie and redirects), then open the app."""
    page.goto(f"{site.url}/auth/login?redirect_path=/")
    if hash_:
        page.goto(f"{site.url}/{hash_}")
    page.wait_for_selector("#signed-in:not([hidden])")


def wait_for_map(page: Any) -> None:
    page.wait_for_function(SETTLED, timeout=30_000)
    page.wait_for_timeout(300)  # one more frame after the last tile


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def colour_counts(page: Any, colours: list[tuple[int, int, int]], tol: int = 12) -> tuple[list[int], int]:
    result = page.evaluate(COUNT_COLOURS, [[list(c) for c in colours], tol])
    return result["counts"], result["total"]


# ---- basemap ------------------------------------------------------------------------------------


def test_the_offline_basemap_draws_land_and_water(site: websim.SimSite, page: Any) -> None:
    page.goto(site.url)  # signed out: the basemap alone, and the way in
    page.wait_for_selector("#signed-out:not([hidden])")
    page.wait_for_function(BASEMAP_SETTLED, timeout=30_000)
    page.evaluate("() => window.ridelines.map.jumpTo({center: [10, 45], zoom: 3})")  # Europe and the Med
    page.wait_for_function(BASEMAP_SETTLED, timeout=30_000)
    page.wait_for_timeout(300)
    (land, water), total = colour_counts(page, [LAND, WATER])
    shot(page, "basemap-offline.png")
    assert land > total * 0.2, (land, total)
    assert water > total * 0.1, (water, total)
    attribution = page.text_content(".maplibregl-ctrl-attrib") or ""
    assert "Natural Earth" in attribution and "GeoNames" in attribution
    # Major places: capitals and big cities are named (DOM labels), only a few at a time.
    page.wait_for_selector(".place-label.capital:has-text('Paris')")
    labels = page.locator(".place-label").all_text_contents()
    assert {"Paris", "Rome", "Madrid"} <= set(labels) and len(labels) <= 60, labels
    assert page.get_by_role("button", name="Connect with intervals.icu").is_visible()


def test_a_configured_basemap_style_is_used_with_its_attribution(site: websim.SimSite, page: Any) -> None:
    site.basemap_style_url = f"{site.url}/test-basemap/style.json"
    open_app(page, site)
    wait_for_map(page)
    page.wait_for_selector(".maplibregl-ctrl-attrib:has-text('Test Basemap')")
    assert page.evaluate("() => window.ridelines.state.basemap") == "configured"
    assert page.is_hidden("#notice")


def test_an_unreachable_basemap_style_falls_back_with_a_notice(site: websim.SimSite, page: Any) -> None:
    site.basemap_style_url = f"{site.url}/no-such-style.json"  # 404
    page.goto(site.url)
    page.wait_for_selector("#notice:not([hidden])")
    assert "basemap" in (page.text_content("#notice") or "")
    page.wait_for_function(BASEMAP_SETTLED, timeout=30_000)
    page.evaluate("() => window.ridelines.map.jumpTo({center: [10, 45], zoom: 3})")
    page.wait_for_function(BASEMAP_SETTLED, timeout=30_000)
    page.wait_for_timeout(300)
    (land,), total = colour_counts(page, [LAND])
    assert land > total * 0.2


def test_a_rider_with_no_rides_sees_the_basemap_and_a_press_sync_hint(
    site: websim.SimSite, page: Any
) -> None:
    site.has_map = False
    open_app(page, site)
    hint = page.wait_for_selector("#empty:not([hidden])")
    assert "press Sync" in (hint.text_content() or "")
    assert page.is_hidden("#panel")
    assert page.is_hidden("#message")
    page.wait_for_function(BASEMAP_SETTLED, timeout=30_000)
    page.evaluate("() => window.ridelines.map.jumpTo({center: [10, 45], zoom: 3})")
    page.wait_for_function(BASEMAP_SETTLED, timeout=30_000)
    page.wait_for_timeout(300)
    (land, water), total = colour_counts(page, [LAND, WATER])
    assert land > total * 0.2 and water > total * 0.1
    shot(page, "no-rides.png")


# ---- modes and layers -------------------------------------------------------------------------------


def test_heatmap_mode_toggles_and_many_rides_on_one_road_read_brighter(
    site: websim.SimSite, page: Any
) -> None:
    open_app(page, site)
    wait_for_map(page)
    shot(page, "mode-lines.png")
    visibility = "(id) => window.ridelines.map.getLayoutProperty(id, 'visibility') || 'visible'"
    assert page.evaluate(visibility, "activities-line") == "visible"

    page.get_by_label("Heatmap").check()
    page.wait_for_function(f"() => ({visibility})('activities-density') === 'visible'")
    assert page.evaluate(visibility, "activities-line") == "none"
    page.wait_for_function(SETTLED)
    page.wait_for_timeout(300)
    shot(page, "mode-heatmap.png")
    (x0, y0), (x1, y1) = websim.SHARED_ROAD
    shared = [(x0 + x1) / 2, (y0 + y1) / 2]  # forty rides
    single = site.rides[-1].coordinates[len(site.rides[-1].coordinates) // 4]  # one ride
    page.evaluate(
        "([a, b]) => window.ridelines.map.fitBounds([a, b], {padding: 80, animate: false})",
        [
            [min(shared[0], single[0]), min(shared[1], single[1])],
            [max(shared[0], single[0]), max(shared[1], single[1])],
        ],
    )
    page.wait_for_function(SETTLED)
    page.wait_for_timeout(300)
    hot = page.evaluate(BRIGHTEST_NEAR, shared)
    one = page.evaluate(BRIGHTEST_NEAR, list(single))
    # The filters apply to the heat too: with every type off, both places show the bare basemap.
    boxes = page.locator("#type-filters input[type=checkbox]")
    for i in range(boxes.count()):
        boxes.nth(i).uncheck()
    page.wait_for_timeout(500)
    bare_shared = page.evaluate(BRIGHTEST_NEAR, shared)
    bare_single = page.evaluate(BRIGHTEST_NEAR, list(single))
    assert hot > one + 40, (hot, one)
    assert one > bare_single + 10, (one, bare_single)  # a single ride still shows
    assert abs(bare_shared - bare_single) < 10, (bare_shared, bare_single)
    for i in range(boxes.count()):
        boxes.nth(i).check()

    page.get_by_label("Lines by type").check()
    page.wait_for_function(f"() => ({visibility})('activities-line') === 'visible'")
    assert page.evaluate(visibility, "activities-heat") == "none"


def test_explorer_layer_toggles_with_its_numbers(site: websim.SimSite, page: Any) -> None:
    open_app(page, site)
    wait_for_map(page)
    expected = websim.explorer_of(site.rides)
    size = expected["max_square"]["size"]
    summary = page.wait_for_selector("#explorer-summary:has-text('tiles explored')")
    assert (
        summary.text_content() == f"{len(expected['tiles'])} tiles explored · max square {size}\u00d7{size}"
    )
    (land_before, blue_before), total = colour_counts(page, [LAND, EXPLORER_BLUE], tol=60)

    toggle = page.get_by_label("Explorer tiles")
    toggle.focus()
    page.keyboard.press("Space")  # keyboard use
    assert toggle.is_checked()
    page.wait_for_timeout(500)
    (land_after, blue_after), _ = colour_counts(page, [LAND, EXPLORER_BLUE], tol=60)
    shot(page, "mode-explorer.png")
    assert land_before - land_after > total * 0.05, (land_before, land_after, total)  # tiles shaded
    assert blue_after > blue_before  # the max square's outline
    square = page.evaluate(
        "() => window.ridelines.map.queryRenderedFeatures({layers: ['explorer-square']}).length"
    )
    assert square >= 1

    page.keyboard.press("Space")
    page.wait_for_timeout(300)
    assert (
        page.evaluate("() => window.ridelines.map.getLayoutProperty('explorer-fill', 'visibility')") == "none"
    )


# ---- rides list, URL, stats -------------------------------------------------------------------------


def test_search_finds_a_ride_flies_there_and_the_url_round_trips(
    site: websim.SimSite, page: Any, browser: Any
) -> None:
    open_app(page, site)
    wait_for_map(page)
    target = next(r for r in site.rides if r.name == "Montserrat climb")
    page.get_by_label("Only rides in view").uncheck()
    page.get_by_label("Search by name").fill("montserrat")
    rows = page.locator("#ride-list .ride-button")
    page.wait_for_function("() => document.querySelectorAll('#ride-list .ride-button').length === 1")
    assert "Montserrat climb" in (rows.first.text_content() or "")
    zoom_before = page.evaluate("() => window.ridelines.map.getZoom()")
    rows.first.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => !window.ridelines.map.isMoving()")
    page.wait_for_function(SETTLED)
    view = page.evaluate(
        "() => {const m = window.ridelines.map, b = m.getBounds(); "
        "return {zoom: m.getZoom(), w: b.getWest(), s: b.getSouth(), e: b.getEast(), n: b.getNorth()}}"
    )
    w, s, e, n = target.bbox
    assert view["w"] <= w and view["s"] <= s and view["e"] >= e and view["n"] >= n, (view, target.bbox)
    assert view["zoom"] > zoom_before
    assert rows.first.get_attribute("aria-current") == "true"
    highlighted = page.evaluate(
        "() => [...new Set(window.ridelines.map.queryRenderedFeatures({layers: ['activities-selected']})"
        ".map(f => String(f.properties.id)))]"
    )
    assert highlighted == [target.id]
    shot(page, "ride-selected.png")
    url = page.url
    assert f"ride={target.id}" in url and "map=" in url

    # A bookmark / reload: the same view and the same ride.
    again = browser.new_context(viewport=VIEWPORT)
    again.add_init_script(CSP_PROBE)
    try:
        other = again.new_page()
        other.goto(f"{site.url}/auth/login?redirect_path=/")
        other.goto("about:blank")  # else going to url is only a fragment change of the same page
        other.goto(url)
        other.wait_for_function(SETTLED, timeout=30_000)
        restored = other.evaluate(
            "() => {const m = window.ridelines.map, c = m.getCenter(); return {zoom: m.getZoom(), lat: c.lat, lon: c.lng,"
            " selected: window.ridelines.state.selected}}"
        )
        here = page.evaluate(
            "() => {const m = window.ridelines.map, c = m.getCenter(); return {zoom: m.getZoom(), lat: c.lat, lon: c.lng}}"
        )
        assert restored["selected"] == target.id
        assert restored["zoom"] == pytest.approx(here["zoom"], abs=0.01)
        assert restored["lat"] == pytest.approx(here["lat"], abs=1e-4)
        assert restored["lon"] == pytest.approx(here["lon"], abs=1e-4)
        other.wait_for_function(
            "() => window.ridelines.map.queryRenderedFeatures({layers: ['activities-selected']}).length > 0"
        )
        assert other.evaluate("() => window.__csp") == []
    finally:
        again.close()


def test_the_list_shows_rides_in_view_newest_first_and_is_virtualized(
    site: websim.SimSite, page: Any
) -> None:
    many = websim.generate_rides(3000, seed=3)
    site.rides_json = json.dumps({"rides": [r.listing() for r in reversed(many)]}).encode()  # any order in
    open_app(page, site)
    wait_for_map(page)
    page.get_by_label("Only rides in view").uncheck()
    page.wait_for_selector("#ride-count:has-text('3000 of 3000')")
    rows = page.locator("#ride-list .ride-button")
    assert rows.count() < 40  # only what is on screen (plus a few) exists
    assert (rows.first.text_content() or "").startswith(many[0].name)  # newest first
    rows.first.focus()
    page.keyboard.press("End")
    focused = page.evaluate("() => document.activeElement.dataset.rideId")
    assert focused == many[-1].id
    page.keyboard.press("ArrowUp")
    assert page.evaluate("() => document.activeElement.dataset.rideId") == many[-2].id

    # Only rides in view: zoomed onto the shared road, the loops far away leave the list.
    page.get_by_label("Only rides in view").check()
    total_in_view = int((page.text_content("#ride-count") or "0").split()[0])
    (x0, y0), (x1, y1) = websim.SHARED_ROAD
    page.evaluate(
        "([a, b]) => window.ridelines.map.fitBounds([a, b], {padding: 10, animate: false})",
        [[x0, y0], [x1, y1]],
    )
    page.wait_for_function(
        f"() => parseInt(document.querySelector('#ride-count').textContent) < {total_in_view}"
    )


def test_stats_total_what_the_filters_select(site: websim.SimSite, page: Any) -> None:
    open_app(page, site)
    wait_for_map(page)
    year = "2022"
    page.select_option("#year-filter", value=year)
    chosen = [r for r in site.rides if r.start.startswith(year)]
    rows = page.locator("#stats table").first.locator("tbody tr")
    assert rows.count() == 1
    cells = [c.text_content() for c in rows.first.locator("th, td").all()]
    assert cells[0] == year
    assert int(cells[1]) == len(chosen)
    assert int(cells[2]) == round(sum(r.distance_m for r in chosen) / 1000)
    assert float(cells[3]) == pytest.approx(round(sum(r.moving_s for r in chosen) / 3600, 1))
    assert int(cells[4]) == round(sum(r.elevation_gain_m for r in chosen))

    page.get_by_label("Run", exact=True).uncheck()
    by_type = [t.text_content() for t in page.locator("#stats table").nth(1).locator("tbody th").all()]
    assert "Run" not in by_type and by_type
    runs_left = [r for r in chosen if r.type != "Run"]
    assert int(page.locator("#stats table").first.locator("tbody td").first.text_content() or "0") == len(
        runs_left
    )


# ---- privacy ----------------------------------------------------------------------------------------


def test_privacy_zones_are_added_on_the_map_adjusted_removed_and_saved(
    site: websim.SimSite, page: Any
) -> None:
    open_app(page, site)
    wait_for_map(page)
    page.get_by_role("button", name="Privacy").click()
    assert page.get_by_role("button", name="Privacy").get_attribute("aria-expanded") == "true"
    box = page.locator("#map canvas").bounding_box()

    for dx in (0.4, 0.6):
        page.get_by_role("button", name="Add a zone").click()
        assert page.is_visible("#add-zone-hint")
        page.mouse.click(box["x"] + box["width"] * dx, box["y"] + box["height"] * 0.5)
    zones = page.locator("#zones li")
    assert zones.count() == 2
    drawn = "() => new Set(window.ridelines.map.queryRenderedFeatures({layers: ['privacy-fill']}).map(f => f.properties.index)).size"
    page.wait_for_function(f"() => ({drawn})() === 2")

    radius = page.get_by_label("Radius of zone 2 in metres")
    radius.focus()
    page.keyboard.press("ArrowRight")  # +50 m
    page.keyboard.press("ArrowRight")
    assert radius.input_value() == "600"
    page.get_by_role("button", name="Remove zone 1").click()
    assert zones.count() == 1
    page.get_by_label("Hide every ride's start and end (metres, 0\u20132000)").fill("300")
    page.wait_for_timeout(300)
    shot(page, "privacy.png")
    profile_reads = len(site.requested("GET", "/api/user"))
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("#privacy-status:has-text('Saved')")
    page.wait_for_timeout(3500)  # the re-tiled map is looked for without a reload
    assert len(site.requested("GET", "/api/user")) > profile_reads
    sent = site.privacy_puts[-1]
    assert len(sent["zones"]) == 1 and sent["zones"][0]["radius_m"] == 600 and sent["hide_ends_m"] == 300
    expected_lon = page.evaluate("(x) => window.ridelines.map.unproject([x, 0]).lng", box["width"] * 0.6)
    assert sent["zones"][0]["lon"] == pytest.approx(expected_lon, abs=1e-3)

    # The server's 422 is shown next to the form, naming the field; the stored settings stay.
    page.get_by_label("Hide every ride's start and end (metres, 0\u20132000)").fill("5000")
    page.get_by_role("button", name="Save").click()
    error = page.wait_for_selector("#privacy-error:not([hidden])")
    assert "hide_ends_m" in (error.text_content() or "") and "2000" in (error.text_content() or "")
    assert site.privacy["hide_ends_m"] == 300

    # Keyboard only: pick, focus the map, Enter puts a zone at the map's centre.
    page.get_by_role("button", name="Add a zone").click()
    page.locator("#map canvas").focus()
    page.keyboard.press("Enter")
    assert zones.count() == 2
    centre = page.evaluate("() => window.ridelines.map.getCenter()")
    assert "({:.4f}, {:.4f})".format(centre["lat"], centre["lng"]) in (zones.nth(1).text_content() or "")
    page.get_by_role("button", name="Remove zone 2").click()

    # Escape leaves zone-picking without adding one.
    page.get_by_role("button", name="Add a zone").click()
    page.keyboard.press("Escape")
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.3)
    assert zones.count() == 1


def test_download_my_data_gets_the_export(site: websim.SimSite, page: Any) -> None:
    open_app(page, site)
    link = page.get_by_role("link", name="Download my data")
    assert link.get_attribute("href") == "/api/user/export"
    with page.expect_download() as download:
        link.click()
    content = Path(download.value.path()).read_text()
    assert json.loads(content.splitlines()[0])["properties"]["id"] == site.rides[0].id


# ---- sessions and sync --------------------------------------------------------------------------------


def test_sign_out_removes_the_map_and_connect_signs_in_again(site: websim.SimSite, page: Any) -> None:
    open_app(page, site)
    wait_for_map(page)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_selector("#signed-out:not([hidden])")
    assert site.requested("POST", "/auth/logout")
    assert page.evaluate("() => Boolean(window.ridelines.map.getSource('activities'))") is False
    assert page.is_hidden("#panel")
    status = page.evaluate("() => fetch('/api/user').then(r => r.status)")
    assert status == 401
    assert page.evaluate("() => document.cookie") == ""  # the page never sees the session

    page.get_by_role("button", name="Connect with intervals.icu").click()
    page.wait_for_selector("#signed-in:not([hidden])")
    assert any(p == "/auth/login" for _, m, p in site.requests if m == "GET")
    wait_for_map(page)


def test_a_401_from_the_api_shows_the_signed_out_screen(site: websim.SimSite, page: Any) -> None:
    open_app(page, site)
    wait_for_map(page)
    site.signed_in = False  # the session ended elsewhere (logout on another device)
    page.get_by_role("button", name="Sync").click()
    page.wait_for_selector("#signed-out:not([hidden])")
    assert "connect again" in (page.text_content("#message") or "").lower()
    assert page.evaluate("() => Boolean(window.ridelines.map.getSource('activities'))") is False


def test_sync_polls_no_faster_than_2s_backs_off_while_queued_and_picks_up_new_publishes(
    site: websim.SimSite, page: Any
) -> None:
    open_app(page, site)
    wait_for_map(page)
    queued = {"sync_id": "s1", "status": "queued", "phase": "queued", "counts": {}}
    running = {"sync_id": "s1", "status": "running", "phase": "downloading", "counts": {"listed": 60}}
    site.sync_states = []
    site.after_sync_post = [
        queued,
        queued,
        queued,
        {**running, "tiles_name": "map-2.pmtiles"},  # an early publish during the sync
        running,
        {**running, "status": "succeeded", "phase": "done", "tiles_name": "map-3.pmtiles"},
    ]
    page.get_by_role("button", name="Sync").click()
    page.wait_for_selector('#sync-status[data-status="succeeded"]', timeout=60_000)
    page.wait_for_function("() => window.ridelines.state.tilesUrl.endsWith('map-3.pmtiles')", timeout=10_000)
    polls = site.requested("GET", "/api/sync")[1:]  # the first is the page load's
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert len(gaps) >= 5, gaps
    assert min(gaps) >= 1.9, gaps
    assert gaps[1] > gaps[0] * 1.3 and gaps[2] > gaps[1] * 1.3, gaps  # backing off while queued
    tiles_requests = {p for _, m, p in site.requests if p.endswith(".pmtiles")}
    assert {
        f"/tiles/{websim.ATHLETE}/map-2.pmtiles",
        f"/tiles/{websim.ATHLETE}/map-3.pmtiles",
    } <= tiles_requests
    assert page.evaluate("() => window.ridelines.map.getSource('activities').url").endswith("map-3.pmtiles")
    assert not page.evaluate("() => performance.getEntriesByType('navigation').length > 1")
    wait_for_map(page)  # the map still draws from the new file


# ---- CSP ------------------------------------------------------------------------------------------


def test_the_csp_is_enforced_and_cssom_styles_are_allowed(site: websim.SimSite, page: Any) -> None:
    """The probe sees a real violation (a style attribute), but CSSOM property sets, which the list
    and swatches use, are allowed; the page fixture then fails any test with a violation."""
    open_app(page, site)
    wait_for_map(page)
    csp = page.evaluate("() => fetch('/').then(r => r.headers.get('content-security-policy'))")
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe" not in csp
    page.evaluate(
        "() => { const d = document.createElement('div'); d.style.color = 'red'; document.body.append(d); }"
    )
    page.wait_for_timeout(100)
    assert page.evaluate("() => window.__csp") == []
    page.evaluate(
        "() => { const d = document.createElement('div'); d.setAttribute('style', 'color: red'); document.body.append(d); }"
    )
    page.wait_for_function("() => window.__csp.length > 0")
    assert page.evaluate("() => window.__csp[0]").startswith("style-src")
    page.evaluate("() => { window.__csp = []; }")
    page.problems.clear()  # the deliberate violation's console line
