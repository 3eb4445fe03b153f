"""The rides list with 20,000 rides in headless Chromium: time to first render (rides list received
-> first row on screen: parse, sort, filters, stats, list) and time to filter (a search keystroke or
a year change -> list redrawn), against the same app with 1,000 rides as the baseline.

Run alone with ``python -m bench.bench_web`` (updates only its own section of ``bench/RESULTS.md``)
or with the others through ``python -m bench``.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e import websim  # noqa: E402

SECTION = "## Web app: rides list (bench_web)"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
SIZES = (1_000, 20_000)
REPEATS = 5

# Installed before the app: the time the first list row appears.
FIRST_ROW_PROBE = """
new MutationObserver((records, observer) => {
  if (document.querySelector('#ride-list .ride-button')) {
    window.__firstRow = performance.now();
    observer.disconnect();
  }
}).observe(document, {subtree: true, childList: true});
"""

# One filter step, timed to the next frame after the list is redrawn.
FILTER_STEP = """
async ([kind, value]) => {
  const started = performance.now();
  if (kind === "search") {
    const input = document.getElementById("ride-search");
    input.value = value;
    input.dispatchEvent(new Event("input"));
  } else {
    const select = document.getElementById("year-filter");
    select.value = value;
    select.dispatchEvent(new Event("change"));
  }
  await new Promise((resolve) => requestAnimationFrame(() => resolve()));
  return {ms: performance.now() - started, rows: document.querySelectorAll('#ride-list .ride-button').length,
          count: document.getElementById('ride-count').textContent};
}
"""


def measure(browser: Any, site: websim.SimSite, size: int) -> dict[str, Any]:
    rides = websim.generate_rides(size, shared=min(40, size), points=4)
    site.rides_json = json.dumps({"rides": [r.listing() for r in rides]}).encode()
    first_renders, processing, searches, years = [], [], [], []
    rows = 0
    for _ in range(REPEATS):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_init_script(FIRST_ROW_PROBE)
        page = context.new_page()
        page.goto(f"{site.url}/auth/login?redirect_path=/")
        page.wait_for_function("() => window.__firstRow !== undefined", timeout=60_000)
        page.get_by_label("Only rides in view").uncheck()
        page.wait_for_function("() => performance.getEntriesByName('ridelines:rides-rendered').length > 0")
        marks = page.evaluate(
            "() => Object.fromEntries(['received', 'parsed', 'rendered'].map(n =>"
            " [n, performance.getEntriesByName('ridelines:rides-' + n)[0].startTime]))"
        )
        first_renders.append(marks["rendered"] - marks["received"])
        processing.append(marks["rendered"] - marks["parsed"])
        for query in ("m", "mo", "mon", "montserrat", ""):
            searches.append(page.evaluate(FILTER_STEP, ["search", query])["ms"])
        for year in ("2021", "2024", ""):
            result = page.evaluate(FILTER_STEP, ["year", year])
            years.append(result["ms"])
        rows = max(rows, page.evaluate("() => document.querySelectorAll('#ride-list .ride-button').length"))
        context.close()
    return {
        "size": size,
        "first_render_ms": statistics.median(first_renders),
        "processing_ms": statistics.median(processing),
        "search_ms": statistics.median(searches),
        "year_ms": statistics.median(years),
        "dom_rows": rows,
    }


def run() -> str:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        tiles = Path(folder)
        websim.tile(websim.generate_rides(60), tiles / "map.pmtiles")
        site = websim.SimSite(tiles_dir=tiles, rides=websim.generate_rides(60))
        site.start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                try:
                    results = [measure(browser, site, size) for size in SIZES]
                finally:
                    browser.close()
        finally:
            site.stop()
    base, big = results
    lines = [
        SECTION,
        "",
        f"Headless Chromium (SwiftShader), the app served by the test stand-in site; median of {REPEATS} page "
        "loads. First render: rides list response -> list drawn (User Timing marks in web/app.js): JSON "
        "parse, newest-first sort, type/year filters, stats and the first rows, plus waiting for a main "
        "thread that is busy drawing the map at the time; the next column is the app's own work after parsing. Filter: search keystrokes and year changes -> the next frame after the list "
        "is redrawn. The list is virtualized: only the rows on screen exist.",
        "",
        "| rides | first render | of which sort, filters, stats, list | search keystroke | year change | list rows in the DOM |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['size']:,} | {r['first_render_ms']:.0f} ms | {r['processing_ms']:.0f} ms | {r['search_ms']:.1f} ms "
            f"| {r['year_ms']:.1f} ms "
            f"| {r['dom_rows']} |"
        )
    ratio = big["size"] / base["size"]
    lines += [
        "",
        f"{ratio:.0f}x the rides costs {big['first_render_ms'] / max(base['first_render_ms'], 0.1):.1f}x the first "
        f"render and {big['search_ms'] / max(base['search_ms'], 0.1):.1f}x a search keystroke; the DOM holds "
        f"{big['dom_rows']} rows either way.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    section = run()
    out = REPO / "bench" / "RESULTS.md"
    text = out.read_text() if out.exists() else "# Benchmark results\n\n"
    if SECTION in text:
        start = text.index(SECTION)
        following = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + ("\n" + text[following + 1 :] if following != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + section
    out.write_text(text)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
