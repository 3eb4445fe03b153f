/* Ridelines map viewer: connect with intervals.icu, sync, and see every GPS track on one map.
 *
 * The API is on the same origin (/auth, /api); tiles come from tiles_url (GET /api/user), read
 * through the pmtiles protocol with HTTP range requests. No basemap: tracks draw on a plain
 * background, so nothing is loaded from the internet.
 */
"use strict";

(() => {
  const TOKEN_KEY = "ridelines.token";
  const POLL_MS = 1000;
  const SOURCE = "activities";
  const LAYER = "activities"; // tippecanoe layer name (DESIGN 4)
  const TYPE_COLOURS = {
    Ride: "#e4572e",
    GravelRide: "#a0522d",
    MountainBikeRide: "#2e7d32",
    EBikeRide: "#f59e0b",
    EMountainBikeRide: "#84cc16",
    VirtualRide: "#8b5cf6",
    Velomobile: "#0ea5e9",
    Handcycle: "#14b8a6",
    Run: "#2563eb",
    TrailRun: "#1e40af",
    Walk: "#db2777",
    Hike: "#9d174d",
  };
  const OTHER_COLOUR = "#525252";

  const $ = (id) => document.getElementById(id);
  const FOCUS_CELL_DEG = 1; // about 100 km: "an area" for the first view
  const FIT_PADDING = 40;
  const state = {
    token: null, user: null, tilesUrl: null, polling: null, types: new Set(), years: new Set(),
    allBounds: null, focusPending: false,
  };

  // ---- token handling -------------------------------------------------------------------
  function readFragment() {
    const hash = window.location.hash.replace(/^#/, "");
    if (!hash) return;
    const params = new URLSearchParams(hash);
    if (params.get("token")) sessionStorage.setItem(TOKEN_KEY, params.get("token"));
    if (params.get("error")) {
      showMessage(params.get("error") === "access_denied"
        ? "intervals.icu access was not granted."
        : `Sign-in failed (${params.get("error")}).`);
    }
    // Keep the token out of the address bar, the history and any Referer.
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }

  function showMessage(text) {
    $("message").textContent = text;
    $("message").hidden = !text;
  }

  function signedOut(reason) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.user = null;
    stopPolling();
    $("signed-in").hidden = true;
    $("signed-out").hidden = false;
    if (reason) showMessage(reason);
  }

  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: Object.assign(
        { Authorization: `Bearer ${state.token}` },
        body === undefined ? {} : { "Content-Type": "application/json" },
      ),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      signedOut("Your session has expired: connect again.");
      throw new Error("unauthorized");
    }
    const text = await response.text();
    let payload = null;
    try { payload = text ? JSON.parse(text) : null; } catch (e) { payload = null; }
    return { status: response.status, body: payload };
  }

  // ---- the user and the sync --------------------------------------------------------------
  async function loadUser() {
    const { status, body } = await api("GET", "/api/user");
    if (status !== 200) {
      showMessage((body && body.message) || `Could not load your profile (${status}).`);
      return;
    }
    state.user = body;
    $("athlete").textContent = body.name || body.athlete_id;
    $("signed-out").hidden = true;
    $("signed-in").hidden = false;
    if (body.tiles_url && body.tiles_url !== state.tilesUrl) {
      showTiles(body.tiles_url).catch(() => showMessage("Your map could not be loaded; try Sync again."));
    }
    if (!body.tiles_url) $("empty").hidden = false;
  }

  function describe(sync) {
    const c = sync.counts || {};
    const parts = [`${sync.status}`];
    if (sync.phase && sync.phase !== sync.status) parts.push(sync.phase);
    const counts = [
      ["listed", c.listed], ["new", c.new], ["changed", c.changed], ["deleted", c.deleted],
      ["downloaded", c.downloaded], ["skipped", c.skipped], ["failed", c.failed],
    ].filter(([, v]) => v).map(([k, v]) => `${v} ${k}`);
    let text = parts.join(" · ");
    if (counts.length) text += ` — ${counts.join(", ")}`;
    if (sync.status === "failed" && sync.error) text += ` (${sync.error})`;
    return text;
  }

  function renderSync(sync) {
    const el = $("sync-status");
    el.dataset.status = sync ? sync.status : "";
    el.textContent = sync ? describe(sync) : "";
    const active = sync && (sync.status === "queued" || sync.status === "running");
    $("sync").disabled = Boolean(active);
  }

  async function pollSync() {
    const { status, body } = await api("GET", "/api/sync");
    if (status === 404) { renderSync(null); stopPolling(); return; }
    if (status !== 200) return;
    renderSync(body);
    if (body.status === "succeeded" || body.status === "failed") {
      stopPolling();
      if (body.status === "succeeded") await loadUser();
    } else {
      startPolling();
    }
  }

  function startPolling() {
    if (state.polling) return;
    state.polling = setInterval(() => pollSync().catch(() => {}), POLL_MS);
  }

  function stopPolling() {
    if (state.polling) clearInterval(state.polling);
    state.polling = null;
  }

  async function startSync() {
    $("sync").disabled = true;
    showMessage("");
    const { status, body } = await api("POST", "/api/sync", { full: false });
    if (status === 202 || status === 409) {
      renderSync({ status: "queued", phase: "queued", counts: {} });
      startPolling();
    } else {
      $("sync").disabled = false;
      showMessage((body && body.message) || `Sync could not start (${status}).`);
    }
  }

  // ---- the map ------------------------------------------------------------------------------
  const protocol = new pmtiles.Protocol();
  maplibregl.addProtocol("pmtiles", protocol.tile);

  const map = new maplibregl.Map({
    container: "map",
    style: {
      version: 8,
      sources: {},
      layers: [{ id: "background", type: "background", paint: { "background-color": "#f5f3ee" } }],
    },
    center: [0, 20],
    zoom: 1,
    attributionControl: false,
    canvasContextAttributes: { preserveDrawingBuffer: true }, // lets tests and screenshots read pixels
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new maplibregl.ScaleControl(), "bottom-left");

  function colourExpression() {
    const expr = ["match", ["get", "type"]];
    for (const [type, colour] of Object.entries(TYPE_COLOURS)) expr.push(type, colour);
    expr.push(OTHER_COLOUR);
    return expr;
  }

  function whenStyleReady(fn) {
    if (map.isStyleLoaded()) fn(); else map.once("load", fn);
  }

  async function showTiles(url) {
    state.tilesUrl = url;
    const archive = new pmtiles.PMTiles(url);
    protocol.add(archive);
    const header = await archive.getHeader();
    whenStyleReady(() => {
      for (const id of ["activities-hit", "activities-line"]) if (map.getLayer(id)) map.removeLayer(id);
      if (map.getSource(SOURCE)) map.removeSource(SOURCE);
      map.addSource(SOURCE, { type: "vector", url: `pmtiles://${url}` });
      map.addLayer({
        id: "activities-line",
        type: "line",
        source: SOURCE,
        "source-layer": LAYER,
        layout: { "line-join": "round", "line-cap": "round" },
        paint: {
          "line-color": colourExpression(),
          "line-width": ["interpolate", ["linear"], ["zoom"], 3, 2.5, 10, 3, 16, 5],
          "line-opacity": 0.85,
        },
      });
      // A wide invisible twin so thin lines are easy to click.
      map.addLayer({
        id: "activities-hit",
        type: "line",
        source: SOURCE,
        "source-layer": LAYER,
        paint: { "line-color": "#000", "line-width": 12, "line-opacity": 0 },
      });
      applyFilters();
      $("filters").hidden = false;
      $("empty").hidden = true;
      map.resize();
      state.allBounds = header.maxLon > header.minLon && header.maxLat > header.minLat
        ? [[header.minLon, header.minLat], [header.maxLon, header.maxLat]]
        : null;
      // First every ride (so their tiles load), then, once they have, the area with most rides.
      fitAll();
      state.focusPending = true;
    });
  }

  function fitAll() {
    if (state.allBounds) map.fitBounds(state.allBounds, { padding: FIT_PADDING, animate: false });
  }

  // The extent and start of each ride in the loaded tiles (a ride spans several tiles: merged by id).
  function rideExtents() {
    const rides = new Map();
    for (const f of map.querySourceFeatures(SOURCE, { sourceLayer: LAYER })) {
      const id = String(f.properties.id);
      const g = f.geometry;
      const lines = g.type === "LineString" ? [g.coordinates]
        : g.type === "MultiLineString" ? g.coordinates : [];
      let r = rides.get(id);
      for (const line of lines) {
        for (const [lon, lat] of line) {
          if (!r) {
            r = { w: lon, s: lat, e: lon, n: lat, start: String(f.properties.start || "") };
            rides.set(id, r);
          }
          r.w = Math.min(r.w, lon); r.e = Math.max(r.e, lon);
          r.s = Math.min(r.s, lat); r.n = Math.max(r.n, lat);
        }
      }
    }
    return [...rides.values()];
  }

  // Where a rider expects to land: the ~100 km area holding the most rides (ties: the one with the
  // most recent ride). A holiday abroad then does not shrink the home rides to a dot. Returns
  // [[w, s], [e, n]] or null.
  function focusBounds(rides) {
    if (!rides.length) return null;
    const cellOf = (r) => [
      Math.floor((r.s + r.n) / 2 / FOCUS_CELL_DEG), Math.floor((r.w + r.e) / 2 / FOCUS_CELL_DEG),
    ];
    const cells = new Map();
    for (const r of rides) {
      const key = cellOf(r).join(",");
      const cell = cells.get(key) || { count: 0, latest: "" };
      cell.count += 1;
      if (r.start > cell.latest) cell.latest = r.start;
      cells.set(key, cell);
    }
    const near = (a, b) => Math.abs(a[0] - b[0]) <= 1 && Math.abs(a[1] - b[1]) <= 1;
    let best = null;
    for (const key of cells.keys()) {
      const at = key.split(",").map(Number);
      let count = 0; let latest = "";
      for (const [other, cell] of cells) {
        if (!near(at, other.split(",").map(Number))) continue;
        count += cell.count;
        if (cell.latest > latest) latest = cell.latest;
      }
      if (!best || count > best.count || (count === best.count && latest > best.latest)) {
        best = { at, count, latest };
      }
    }
    const chosen = rides.filter((r) => near(cellOf(r), best.at));
    return [
      [Math.min(...chosen.map((r) => r.w)), Math.min(...chosen.map((r) => r.s))],
      [Math.max(...chosen.map((r) => r.e)), Math.max(...chosen.map((r) => r.n))],
    ];
  }

  function focusOnMostRides() {
    state.focusPending = false;
    const bounds = focusBounds(rideExtents());
    if (bounds) map.fitBounds(bounds, { padding: FIT_PADDING, animate: false, maxZoom: 14 });
  }

  // Types and years present in the data, learnt from the tiles as they load.
  map.on("idle", () => {
    if (!map.getSource(SOURCE)) return;
    if (state.focusPending) focusOnMostRides(); // the tiles of every ride are loaded now
    let added = false;
    const features = map.querySourceFeatures(SOURCE, { sourceLayer: LAYER });
    for (const f of features) {
      const type = f.properties.type || "Other";
      const year = String(f.properties.start || "").slice(0, 4);
      if (!state.types.has(type)) { state.types.add(type); added = true; }
      if (year && !state.years.has(year)) { state.years.add(year); added = true; }
    }
    if (added) renderFilters();
    const ids = new Set(map.queryRenderedFeatures({ layers: ["activities-line"] }).map((f) => f.properties.id));
    $("feature-count").textContent = `${ids.size} ride${ids.size === 1 ? "" : "s"} in view`;
  });

  function renderFilters() {
    const box = $("type-filters");
    const checked = new Set([...box.querySelectorAll("input:not(:checked)")].map((i) => i.value));
    box.replaceChildren();
    for (const type of [...state.types].sort()) {
      const label = document.createElement("label");
      label.className = "type-option";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.value = type;
      input.checked = !checked.has(type);
      input.addEventListener("change", applyFilters);
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = TYPE_COLOURS[type] || OTHER_COLOUR;
      label.append(input, swatch, document.createTextNode(` ${typeLabel(type)}`));
      box.append(label);
    }
    const select = $("year-filter");
    const current = select.value;
    select.replaceChildren(new Option("All years", ""));
    for (const year of [...state.years].sort().reverse()) select.append(new Option(year, year));
    select.value = current;
  }

  function typeLabel(type) {
    return type.replace(/([a-z])([A-Z])/g, "$1 $2"); // "MountainBikeRide" -> "Mountain Bike Ride"
  }

  function applyFilters() {
    if (!map.getLayer("activities-line")) return;
    const hidden = [...$("type-filters").querySelectorAll("input:not(:checked)")].map((i) => i.value);
    const year = $("year-filter").value;
    const filter = ["all"];
    if (hidden.length) filter.push(["!", ["in", ["coalesce", ["get", "type"], "Other"], ["literal", hidden]]]);
    if (year) filter.push(["==", ["slice", ["coalesce", ["get", "start"], ""], 0, 4], year]);
    for (const id of ["activities-line", "activities-hit"]) map.setFilter(id, filter.length > 1 ? filter : null);
  }
  $("year-filter").addEventListener("change", applyFilters);
  $("fit-all").addEventListener("click", fitAll);

  function formatDistance(metres) {
    const m = Number(metres);
    return Number.isFinite(m) && m > 0 ? `${(m / 1000).toFixed(1)} km` : "";
  }

  function formatDate(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? "" : d.toLocaleDateString(undefined, {
      year: "numeric", month: "short", day: "numeric",
    });
  }

  map.on("click", "activities-hit", (e) => {
    const p = e.features[0].properties;
    const box = document.createElement("div");
    box.className = "popup";
    const title = document.createElement("h3");
    title.textContent = p.name || "Activity";
    const meta = document.createElement("p");
    meta.textContent = [typeLabel(String(p.type || "")), formatDate(p.start), formatDistance(p.distance_m)]
      .filter(Boolean).join(" · ");
    const link = document.createElement("a");
    link.href = `https://intervals.icu/activities/${encodeURIComponent(p.id)}`;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = "Open on intervals.icu";
    const linkLine = document.createElement("p");
    linkLine.append(link);
    box.append(title, meta, linkLine);
    new maplibregl.Popup({ maxWidth: "280px" }).setLngLat(e.lngLat).setDOMContent(box).addTo(map);
  });
  map.on("mouseenter", "activities-hit", () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", "activities-hit", () => { map.getCanvas().style.cursor = ""; });

  // ---- start --------------------------------------------------------------------------------
  $("connect").addEventListener("click", () => {
    window.location.assign(`/auth/login?redirect_path=${encodeURIComponent("/")}`);
  });
  $("sync").addEventListener("click", () => startSync().catch(() => {}));
  $("sign-out").addEventListener("click", () => signedOut(""));

  readFragment();
  state.token = sessionStorage.getItem(TOKEN_KEY);
  if (!state.token) {
    signedOut("");
  } else {
    loadUser().then(() => pollSync()).catch(() => {});
  }
  window.ridelines = { map, state, showTiles, focusBounds }; // for the end-to-end tests and curious developers
})();
