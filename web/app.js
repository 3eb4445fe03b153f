/* Ridelines: connect with intervals.icu, sync, and see every GPS track on one map.
 *
 * Everything is same-origin: the API (/auth, /api) and the rider's tiles (/tiles) are reached with the
 * session cookies the browser holds; this script never sees a token. It runs under a strict CSP: no
 * inline script or style attribute (dynamic positions and colours are CSSOM property sets), no eval,
 * nothing from another origin except the optional basemap style named in /config.json.
 */
"use strict";

(() => {
  const POLL_MIN_MS = 2000; // never poll GET /api/sync faster than this
  const POLL_MAX_MS = 15000; // queued syncs back off up to this
  const SOURCE = "activities";
  const LAYER = "activities"; // tippecanoe layer name (DESIGN 4)
  const ROW_HEIGHT = 56; // px, must match .ride-row in style.css (virtualized list)
  const EXPLORER_ZOOM = 14;
  const FOCUS_CELL_DEG = 1; // about 100 km: "an area" for the first view
  const FIT_PADDING = 40;
  const TYPE_COLOURS = {
    Ride: "#d7301f",
    GravelRide: "#8c510a",
    MountainBikeRide: "#1b7837",
    EBikeRide: "#d95f02",
    EMountainBikeRide: "#4d9221",
    VirtualRide: "#7b3294",
    Velomobile: "#0571b0",
    Handcycle: "#01665e",
    Run: "#2166ac",
    TrailRun: "#053061",
    Walk: "#c51b7d",
    Hike: "#8e0152",
  };
  const OTHER_COLOUR = "#404040";
  const BASEMAP = {
    water: "#a9cce3", land: "#f4f1ea", border: "#8c8c8c", coast: "#7fa7c2",
    nightWater: "#0e1a2b", nightLand: "#262b33", nightBorder: "#4b5563",
  };
  const RIDE_LAYERS = ["activities-casing", "activities-line", "activities-heat", "activities-density",
    "activities-hit", "activities-selected"];

  const $ = (id) => document.getElementById(id);
  const state = {
    user: null, tilesUrl: null, ridesUrl: null, rides: [], ridesById: new Map(),
    types: new Set(), years: new Set(), allBounds: null, focusPending: false,
    mode: "lines", selected: null, visible: [], poll: { timer: null, delay: POLL_MIN_MS },
    explorer: null, privacy: { zones: [], hide_ends_m: 0 }, addingZone: false,
    basemap: "offline", restoredView: false, signedIn: false,
  };

  // ---- messages -----------------------------------------------------------------------------
  function showMessage(text) {
    $("message").textContent = text || "";
    $("message").hidden = !text;
  }
  function showNotice(text) {
    $("notice").textContent = text || "";
    $("notice").hidden = !text;
  }

  // ---- the API: same-origin, cookies only ---------------------------------------------------
  class SignedOut extends Error {}

  async function api(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      signedOut(state.signedIn ? "Your session has ended: connect again." : "");
      throw new SignedOut("unauthorized");
    }
    const text = await response.text();
    let payload = null;
    try { payload = text ? JSON.parse(text) : null; } catch (e) { payload = null; }
    return { status: response.status, body: payload };
  }

  function connect() {
    const path = window.location.pathname + window.location.search;
    window.location.assign(`/auth/login?redirect_path=${encodeURIComponent(path || "/")}`);
  }

  async function signOut() {
    stopPolling();
    let status = 0;
    try {
      status = (await api("POST", "/auth/logout")).status;
    } catch (e) {
      if (e instanceof SignedOut) return; // already signed out: signedOut() ran
      status = 0;
    }
    if (status === 204 || status === 200) signedOut("");
    else showMessage("Sign-out failed: try again.");
  }

  function signedOut(reason) {
    state.signedIn = false;
    state.user = null;
    stopPolling();
    clearRides();
    clearExplorer();
    setPrivacyOpen(false);
    state.privacy = { zones: [], hide_ends_m: 0 };
    drawZones();
    $("signed-in").hidden = true;
    $("panel").hidden = true;
    $("empty").hidden = true;
    $("signed-out").hidden = false;
    showMessage(reason || state.loginNotice || "");
    if (map) map.resize();
  }

  // ---- the user and the sync ------------------------------------------------------------------
  async function loadUser() {
    const { status, body } = await api("GET", "/api/user");
    if (status !== 200 || !body) {
      showMessage((body && body.message) || `Could not load your profile (${status}).`);
      return null;
    }
    const first = !state.signedIn;
    state.signedIn = true;
    state.user = body;
    $("athlete").textContent = body.name || body.athlete_id;
    $("signed-out").hidden = true;
    $("signed-in").hidden = false;
    if (first && body.privacy) setPrivacy(body.privacy);
    if (body.tiles_url && body.tiles_url !== state.tilesUrl) {
      showTiles(body.tiles_url).catch(() => showMessage("Your map could not be loaded; try Sync again."));
      loadExplorer().catch(() => {}); // a new publish may have explored new tiles
    }
    if (body.rides_url && body.rides_url !== state.ridesUrl) {
      loadRides(body.rides_url).catch(() => showMessage("Your list of rides could not be loaded."));
    }
    $("empty").hidden = Boolean(body.tiles_url);
    $("panel").hidden = !body.tiles_url;
    map.resize();
    return body;
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
    $("sync").disabled = Boolean(sync && (sync.status === "queued" || sync.status === "running"));
  }

  // One poll; schedules the next one itself (setTimeout chain: a slow answer never stacks polls).
  async function pollSync() {
    state.poll.timer = null;
    const { status, body } = await api("GET", "/api/sync");
    if (status === 404) { renderSync(null); return; }
    if (status !== 200 || !body) { schedulePoll(Math.min(state.poll.delay * 2, POLL_MAX_MS)); return; }
    renderSync(body);
    const done = body.status === "succeeded" || body.status === "failed";
    if (body.status === "running" || done) await loadUser(); // early publishes: a new tiles_url
    if (done) return;
    // Queued: nothing moves until a worker picks it up, so ask less and less often.
    schedulePoll(body.status === "queued" ? Math.min(state.poll.delay * 1.5, POLL_MAX_MS) : POLL_MIN_MS);
  }

  function schedulePoll(delay) {
    if (!state.signedIn) return;
    stopPolling();
    state.poll.delay = Math.max(POLL_MIN_MS, delay);
    state.poll.timer = setTimeout(() => pollSync().catch(() => {}), state.poll.delay);
  }

  function stopPolling() {
    if (state.poll.timer) clearTimeout(state.poll.timer);
    state.poll.timer = null;
  }

  async function startSync() {
    $("sync").disabled = true;
    showMessage("");
    const { status, body } = await api("POST", "/api/sync", { full: false });
    if (status === 202 || status === 409) {
      renderSync({ status: "queued", phase: "queued", counts: {} });
      schedulePoll(POLL_MIN_MS);
    } else {
      $("sync").disabled = false;
      showMessage((body && body.message) || `Sync could not start (${status}).`);
    }
  }

  // ---- the basemap ----------------------------------------------------------------------------
  function offlineStyle() {
    const empty = { type: "FeatureCollection", features: [] };
    return {
      version: 8,
      sources: {
        land: { type: "geojson", data: empty, attribution: "Natural Earth (world-atlas)" },
        coast: { type: "geojson", data: empty },
        borders: { type: "geojson", data: empty },
        places: { type: "geojson", data: empty, attribution: "Places: GeoNames (CC BY 4.0)" },
      },
      layers: [
        { id: "water", type: "background", paint: { "background-color": BASEMAP.water } },
        { id: "land", type: "fill", source: "land", paint: { "fill-color": BASEMAP.land } },
        {
          id: "coast", type: "line", source: "coast",
          paint: { "line-color": BASEMAP.coast, "line-width": ["interpolate", ["linear"], ["zoom"], 2, 0.5, 10, 1.5] },
        },
        {
          id: "borders", type: "line", source: "borders",
          paint: {
            "line-color": BASEMAP.border, "line-dasharray": [3, 2],
            "line-width": ["interpolate", ["linear"], ["zoom"], 2, 0.6, 10, 1.5],
          },
        },
        {
          id: "places", type: "circle", source: "places",
          paint: {
            "circle-color": BASEMAP.border, "circle-stroke-color": BASEMAP.land, "circle-stroke-width": 1,
            "circle-radius": ["case", ["get", "capital"], 3.5, 2.5],
          },
        },
      ],
    };
  }

  // Major places (every capital, every city of a million or more: web/basemap/places.json). Their
  // names are DOM labels, not a symbol layer: text in a style needs glyph files no package ships
  // offline. Only the biggest places that fit at the current zoom are labelled, and few at a time.
  const PLACE_LABELS_MAX = 60;
  const placeLabels = { places: [], markers: new Map() };

  function placeMinPopulation(zoom) {
    if (zoom < 2.5) return 8000000;
    if (zoom < 4) return 3000000;
    if (zoom < 5.5) return 1000000;
    return 0;
  }

  function updatePlaceLabels() {
    if (!map || !placeLabels.places.length) return;
    const bounds = map.getBounds();
    const zoom = map.getZoom();
    const floor = placeMinPopulation(zoom);
    const wanted = new Set();
    for (const place of placeLabels.places) {  // biggest first
      if (wanted.size >= PLACE_LABELS_MAX) break;
      const big = place.population >= floor || (place.capital && zoom >= 3);
      if (big && bounds.contains([place.lon, place.lat])) wanted.add(place.name + "|" + place.country);
    }
    for (const [key, marker] of placeLabels.markers) {
      if (!wanted.has(key)) { marker.remove(); placeLabels.markers.delete(key); }
    }
    for (const place of placeLabels.places) {
      const key = place.name + "|" + place.country;
      if (!wanted.has(key) || placeLabels.markers.has(key)) continue;
      const element = document.createElement("div");
      element.className = place.capital ? "place-label capital" : "place-label";
      element.textContent = place.name;
      element.setAttribute("aria-hidden", "true");  // the map's own description covers the basemap
      const marker = new maplibregl.Marker({ element, anchor: "left", offset: [5, 0] })
        .setLngLat([place.lon, place.lat]).addTo(map);
      placeLabels.markers.set(key, marker);
    }
  }

  async function loadPlaces() {
    const response = await fetch("/basemap/places.json");
    if (!response.ok) throw new Error(`places: ${response.status}`);
    placeLabels.places = (await response.json()).places || [];
    const points = {
      type: "FeatureCollection",
      features: placeLabels.places.map((p) => ({
        type: "Feature", properties: { name: p.name, capital: p.capital },
        geometry: { type: "Point", coordinates: [p.lon, p.lat] },
      })),
    };
    whenStyleReady(() => {
      map.getSource("places").setData(points);
      updatePlaceLabels();
    });
    map.on("moveend", updatePlaceLabels);
  }

  // Land and country borders from Natural Earth 1:50m (world-atlas), converted in the browser.
  async function loadOfflineBasemap() {
    const response = await fetch("/vendor/world-atlas/countries-50m.json");
    if (!response.ok) throw new Error(`basemap data: ${response.status}`);
    const world = await response.json();
    const land = unwrapAntimeridian(topojson.feature(world, world.objects.land));
    const borders = unwrapAntimeridian(topojson.mesh(world, world.objects.countries, (a, b) => a !== b));
    const coast = unwrapAntimeridian(topojson.mesh(world, world.objects.land));
    whenStyleReady(() => {
      map.getSource("land").setData(land);
      map.getSource("coast").setData(coast);
      map.getSource("borders").setData(borders);
    });
  }

  // Natural Earth rings that cross the antimeridian jump from +180 to -180 (spherical data); on a
  // flat map that jump is a band across the whole world. Keep each ring's longitudes continuous
  // (values past 180 are fine: MapLibre wraps them onto the next world copy).
  function unwrapAntimeridian(collection) {
    const unwrapRing = (ring) => {
      let shift = 0;
      return ring.map(([lon, lat], i) => {
        if (i > 0) {
          const prev = ring[i - 1][0];
          if (lon - prev > 180) shift -= 360; else if (prev - lon > 180) shift += 360;
        }
        return [lon + shift, lat];
      });
    };
    const unwrapGeometry = (g) => {
      if (g.type === "Polygon") return { type: g.type, coordinates: g.coordinates.map(unwrapRing) };
      if (g.type === "MultiPolygon") return { type: g.type, coordinates: g.coordinates.map((p) => p.map(unwrapRing)) };
      if (g.type === "LineString") return { type: g.type, coordinates: unwrapRing(g.coordinates) };
      if (g.type === "MultiLineString") return { type: g.type, coordinates: g.coordinates.map(unwrapRing) };
      return g;
    };
    const features = collection.type === "FeatureCollection" ? collection.features
      : collection.type === "Feature" ? [collection] : [{ type: "Feature", geometry: collection }];
    return {
      type: "FeatureCollection",
      features: features.map((f) => ({ type: "Feature", properties: f.properties || {}, geometry: unwrapGeometry(f.geometry) })),
    };
  }

  // The configured basemap style, if any, reachable and valid; otherwise null (offline basemap).
  async function configuredStyle() {
    let url = null;
    try {
      const response = await fetch("/config.json", { credentials: "same-origin" });
      if (response.ok) url = (await response.json()).basemap_style_url || null;
    } catch (e) {
      url = null;
    }
    if (!url) return { style: null, failed: false };
    try {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 8000);
      const response = await fetch(url, { signal: controller.signal, credentials: "omit" });
      clearTimeout(timer);
      if (!response.ok) throw new Error(String(response.status));
      const style = await response.json();
      if (!style || style.version !== 8 || !Array.isArray(style.layers)) throw new Error("not a style");
      return { style, failed: false };
    } catch (e) {
      return { style: null, failed: true };
    }
  }

  // ---- the map ------------------------------------------------------------------------------
  maplibregl.setWorkerUrl("/vendor/maplibre-gl/maplibre-gl-csp-worker.js"); // no blob: worker
  const protocol = new pmtiles.Protocol();
  maplibregl.addProtocol("pmtiles", protocol.tile);
  let map = null;

  function createMap(style) {
    const view = parseHash();
    state.restoredView = Boolean(view.center);
    map = new maplibregl.Map({
      container: "map",
      style,
      center: view.center || [0, 20],
      zoom: view.zoom === undefined ? 1.5 : view.zoom,
      attributionControl: { compact: false },
      canvasContextAttributes: { preserveDrawingBuffer: true }, // lets tests and screenshots read pixels
    });
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
    map.addControl(new maplibregl.ScaleControl(), "bottom-left");
    map.keyboard.enable();
    map.once("load", () => { state.styleLoaded = true; });
    map.getCanvas().setAttribute("aria-label", "Map of your rides: arrow keys pan, plus and minus zoom");
    if (view.ride) state.selected = view.ride;
    wireMap();
  }

  // After the style's first load; isStyleLoaded() is false again whenever a source reloads, so it
  // cannot tell "not yet loaded" from "loading data".
  function whenStyleReady(fn) {
    if (state.styleLoaded) fn(); else map.once("load", fn);
  }

  function colourExpression() {
    const expr = ["match", ["get", "type"]];
    for (const [type, colour] of Object.entries(TYPE_COLOURS)) expr.push(type, colour);
    expr.push(OTHER_COLOUR);
    return expr;
  }

  async function showTiles(url) {
    const previous = state.tilesUrl;
    state.tilesUrl = url;
    const archive = new pmtiles.PMTiles(url);
    protocol.add(archive);
    const header = await archive.getHeader();
    whenStyleReady(() => {
      if (state.tilesUrl !== url) return; // a newer publish arrived meanwhile
      const source = map.getSource(SOURCE);
      if (source && typeof source.setUrl === "function") {
        source.setUrl(`pmtiles://${url}`); // a newer publish: same layers, new data
      } else {
        addRideLayers(url);
      }
      state.allBounds = header.maxLon > header.minLon && header.maxLat > header.minLat
        ? [[header.minLon, header.minLat], [header.maxLon, header.maxLat]]
        : null;
      $("panel").hidden = false;
      $("empty").hidden = true;
      map.resize();
      if (!previous && !state.restoredView) {
        // First every ride (so their tiles load), then, once they have, the area with most rides.
        fitAll();
        state.focusPending = true;
      }
    });
  }

  function addRideLayers(url) {
    map.addSource(SOURCE, { type: "vector", url: `pmtiles://${url}` });
    const base = { source: SOURCE, "source-layer": LAYER };
    map.addLayer({
      id: "activities-casing", type: "line", ...base,
      layout: { "line-join": "round", "line-cap": "round" },
      paint: {
        "line-color": "#ffffff", "line-opacity": 0.7,
        "line-width": ["interpolate", ["linear"], ["zoom"], 3, 3.5, 10, 5, 16, 8],
      },
    });
    map.addLayer({
      id: "activities-line", type: "line", ...base,
      layout: { "line-join": "round", "line-cap": "round" },
      paint: {
        "line-color": colourExpression(),
        "line-width": ["interpolate", ["linear"], ["zoom"], 3, 2, 10, 2.5, 16, 4.5],
        "line-opacity": 0.9,
      },
    });
    // Heatmap mode: a heat ramp from the tracks' vertices (glow where rides pile up) under
    // translucent lines that compound, so ten rides on one road read brighter than one.
    map.addLayer({
      id: "activities-heat", type: "heatmap", ...base,
      layout: { visibility: "none" },
      paint: {
        // Vertex density says "many rides here" only when zoomed out (a region's worth of rides per
        // pixel); closer in it would say "a twisty road", so it fades out and the lines carry it.
        "heatmap-weight": 0.3,
        "heatmap-intensity": ["interpolate", ["linear"], ["zoom"], 0, 0.5, 10, 1],
        "heatmap-radius": ["interpolate", ["linear"], ["zoom"], 0, 4, 10, 10],
        "heatmap-opacity": ["interpolate", ["linear"], ["zoom"], 8, 0.8, 11, 0],
        "heatmap-color": [
          "interpolate", ["linear"], ["heatmap-density"],
          0, "rgba(0,0,0,0)", 0.2, "rgba(124,58,237,0.5)", 0.45, "rgb(219,39,119)",
          0.7, "rgb(249,115,22)", 0.9, "rgb(253,224,71)", 1, "rgb(255,255,224)",
        ],
      },
    });
    map.addLayer({
      id: "activities-density", type: "line", ...base,
      layout: { visibility: "none", "line-join": "round", "line-cap": "round" },
      paint: {
        // Translucent warm lines: each extra ride on a road adds light (alpha compounds).
        "line-color": "#ffb347", "line-opacity": ["interpolate", ["linear"], ["zoom"], 8, 0, 10, 0.3],
        "line-width": ["interpolate", ["linear"], ["zoom"], 8, 1.5, 12, 2.5, 16, 5],
        "line-blur": 0.5,
      },
    });
    // A wide invisible twin so thin lines are easy to click.
    map.addLayer({
      id: "activities-hit", type: "line", ...base,
      paint: { "line-color": "#000", "line-width": 12, "line-opacity": 0 },
    });
    map.addLayer({
      id: "activities-selected", type: "line", ...base,
      filter: ["==", ["to-string", ["get", "id"]], "\u0000"],
      layout: { "line-join": "round", "line-cap": "round" },
      paint: { "line-color": "#ffd400", "line-width": ["interpolate", ["linear"], ["zoom"], 3, 4, 16, 9],
        "line-opacity": 0.95, "line-gap-width": 0 },
    }, undefined);
    setMode(state.mode);
    applyFilters();
    highlight(state.selected);
  }

  function clearRides() {
    if (!map) return;
    for (const id of RIDE_LAYERS) if (map.getLayer(id)) map.removeLayer(id);
    if (map.getSource(SOURCE)) map.removeSource(SOURCE);
    state.tilesUrl = null;
    state.ridesUrl = null;
    state.rides = [];
    state.ridesById = new Map();
    state.types = new Set();
    state.years = new Set();
    state.selected = null;
    state.focusPending = false;
    renderFilters();
    refreshList();
    renderStats();
  }

  function fitAll() {
    if (state.allBounds) map.fitBounds(state.allBounds, { padding: FIT_PADDING, animate: false });
  }

  function setMode(mode) {
    state.mode = mode === "heat" ? "heat" : "lines";
    if (!map || !map.getLayer("activities-line")) return;
    const heat = state.mode === "heat";
    for (const id of ["activities-casing", "activities-line"]) map.setLayoutProperty(id, "visibility", heat ? "none" : "visible");
    for (const id of ["activities-heat", "activities-density"]) map.setLayoutProperty(id, "visibility", heat ? "visible" : "none");
    // The heat glows on a dark basemap (like the heatmaps riders know): more rides, brighter road.
    if (map.getLayer("land")) {
      map.setPaintProperty("land", "fill-color", heat ? BASEMAP.nightLand : BASEMAP.land);
      map.setPaintProperty("water", "background-color", heat ? BASEMAP.nightWater : BASEMAP.water);
      map.setPaintProperty("coast", "line-color", heat ? BASEMAP.nightBorder : BASEMAP.coast);
      map.setPaintProperty("borders", "line-color", heat ? BASEMAP.nightBorder : BASEMAP.border);
    }
  }

  // ---- where to look first ------------------------------------------------------------------
  // The extent and start of each ride in the loaded tiles (a ride spans several tiles: merged by id).
  function rideExtents() {
    if (state.rides.length) {
      return state.rides.filter((r) => r.bbox).map((r) => (
        { w: r.bbox[0], s: r.bbox[1], e: r.bbox[2], n: r.bbox[3], start: r.start }));
    }
    const rides = new Map();
    for (const f of map.querySourceFeatures(SOURCE, { sourceLayer: LAYER })) {
      const id = String(f.properties.id);
      const g = f.geometry;
      const lines = g.type === "LineString" ? [g.coordinates] : g.type === "MultiLineString" ? g.coordinates : [];
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
    let w = Infinity; let s = Infinity; let e = -Infinity; let n = -Infinity;
    for (const r of chosen) { w = Math.min(w, r.w); s = Math.min(s, r.s); e = Math.max(e, r.e); n = Math.max(n, r.n); }
    return [[w, s], [e, n]];
  }

  function focusOnMostRides() {
    state.focusPending = false;
    const bounds = focusBounds(rideExtents());
    if (bounds) map.fitBounds(bounds, { padding: FIT_PADDING, animate: false, maxZoom: 14 });
  }

  // ---- filters --------------------------------------------------------------------------------
  function learn(type, start) {
    let added = false;
    const t = type || "Other";
    const year = String(start || "").slice(0, 4);
    if (!state.types.has(t)) { state.types.add(t); added = true; }
    if (year && !state.years.has(year)) { state.years.add(year); added = true; }
    return added;
  }

  function renderFilters() {
    const box = $("type-filters");
    const unchecked = new Set([...box.querySelectorAll("input:not(:checked)")].map((i) => i.value));
    box.replaceChildren();
    for (const type of [...state.types].sort()) {
      const label = document.createElement("label");
      label.className = "type-option";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.value = type;
      input.checked = !unchecked.has(type);
      input.addEventListener("change", applyFilters);
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.setAttribute("aria-hidden", "true");
      swatch.style.backgroundColor = TYPE_COLOURS[type] || OTHER_COLOUR; // CSSOM: allowed by the CSP
      label.append(input, swatch, document.createTextNode(` ${typeLabel(type)}`));
      box.append(label);
    }
    const select = $("year-filter");
    const current = select.value;
    select.replaceChildren(new Option("All years", ""));
    for (const year of [...state.years].sort().reverse()) select.append(new Option(year, year));
    select.value = [...state.years].includes(current) ? current : "";
  }

  function typeLabel(type) {
    return type.replace(/([a-z])([A-Z])/g, "$1 $2"); // "MountainBikeRide" -> "Mountain Bike Ride"
  }

  function selection() {
    const hidden = new Set([...$("type-filters").querySelectorAll("input:not(:checked)")].map((i) => i.value));
    return { hidden, year: $("year-filter").value };
  }

  function selects(ride, sel) {
    if (sel.hidden.has(ride.type || "Other")) return false;
    return !sel.year || String(ride.start || "").startsWith(sel.year);
  }

  function applyFilters() {
    const sel = selection();
    if (map && map.getLayer("activities-line")) {
      const filter = ["all"];
      if (sel.hidden.size) filter.push(["!", ["in", ["coalesce", ["get", "type"], "Other"], ["literal", [...sel.hidden]]]]);
      if (sel.year) filter.push(["==", ["slice", ["coalesce", ["get", "start"], ""], 0, 4], sel.year]);
      for (const id of ["activities-casing", "activities-line", "activities-heat", "activities-density", "activities-hit"]) {
        map.setFilter(id, filter.length > 1 ? filter : null);
      }
    }
    refreshList();
    renderStats();
  }

  // ---- the rides list (virtualized: only the rows on screen exist) ---------------------------
  async function loadRides(url) {
    state.ridesUrl = url;
    const response = await fetch(url, { credentials: "same-origin" });
    if (response.status === 401 || response.status === 403) throw new Error("rides list not readable");
    if (!response.ok) throw new Error(`rides list: ${response.status}`);
    performance.mark("ridelines:rides-received"); // User Timing: the list's own cost, for bench_web
    const body = await response.json();
    performance.mark("ridelines:rides-parsed");
    if (state.ridesUrl !== url) return;
    const rides = Array.isArray(body && body.rides) ? body.rides : [];
    for (const r of rides) {
      r.id = String(r.id);
      r.search = String(r.name || "").toLowerCase();
      learn(r.type, r.start);
    }
    let newestFirst = true; // as the sync writes it; sort only what is not
    for (let i = 1; i < rides.length && newestFirst; i++) newestFirst = !(rides[i - 1].start < rides[i].start);
    if (!newestFirst) rides.sort((a, b) => (a.start < b.start ? 1 : a.start > b.start ? -1 : 0));
    state.rides = rides;
    state.ridesById = new Map(rides.map((r) => [r.id, r]));
    renderFilters();
    applyFilters();
    performance.mark("ridelines:rides-rendered");
  }

  function inView(ride, bounds) {
    const b = ride.bbox;
    if (!b) return false;
    return !(b[2] < bounds.getWest() || b[0] > bounds.getEast() || b[3] < bounds.getSouth() || b[1] > bounds.getNorth());
  }

  function refreshList() {
    const query = $("ride-search").value.trim().toLowerCase();
    const onlyInView = $("in-view").checked && map;
    const bounds = onlyInView ? map.getBounds() : null;
    const sel = selection();
    const out = [];
    for (const r of state.rides) {
      if (!selects(r, sel)) continue;
      if (query && !r.search.includes(query)) continue;
      if (bounds && !inView(r, bounds)) continue;
      out.push(r);
    }
    state.visible = out;
    $("ride-count").textContent = state.rides.length
      ? `${out.length} of ${state.rides.length} ride${state.rides.length === 1 ? "" : "s"}`
      : state.tilesUrl ? "The list of rides comes with your next sync." : "";
    $("ride-list-spacer").style.height = `${out.length * ROW_HEIGHT}px`; // CSSOM
    renderRows();
  }

  function renderRows() {
    const list = $("ride-list");
    const spacer = $("ride-list-spacer");
    const first = Math.max(0, Math.floor(list.scrollTop / ROW_HEIGHT) - 5);
    const last = Math.min(state.visible.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW_HEIGHT) + 5);
    const focusedId = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.rideId : undefined;
    const rows = [];
    for (let i = first; i < last; i++) rows.push(rideRow(state.visible[i], i));
    spacer.replaceChildren(...rows);
    if (focusedId) {
      const again = spacer.querySelector(`[data-ride-id="${CSS.escape(focusedId)}"]`);
      if (again) again.focus();
    }
  }

  function rideRow(ride, index) {
    const item = document.createElement("div");
    item.setAttribute("role", "listitem");
    item.setAttribute("aria-setsize", String(state.visible.length));
    item.setAttribute("aria-posinset", String(index + 1));
    item.className = "ride-row";
    item.style.transform = `translateY(${index * ROW_HEIGHT}px)`; // CSSOM: allowed by the CSP
    const button = document.createElement("button");
    button.type = "button";
    button.className = "ride-button";
    button.dataset.rideId = ride.id;
    button.dataset.index = String(index);
    if (ride.id === state.selected) button.setAttribute("aria-current", "true");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.setAttribute("aria-hidden", "true");
    swatch.style.backgroundColor = TYPE_COLOURS[ride.type] || OTHER_COLOUR;
    const name = document.createElement("span");
    name.className = "ride-name";
    name.textContent = ride.name || "Activity";
    const meta = document.createElement("span");
    meta.className = "ride-meta";
    meta.textContent = [formatDate(ride.start), typeLabel(String(ride.type || "")), formatDistance(ride.distance_m)]
      .filter(Boolean).join(" · ");
    button.append(swatch, name, meta);
    button.setAttribute("aria-label", `${ride.name || "Activity"}, ${meta.textContent}`);
    item.append(button);
    return item;
  }

  function onListKey(event) {
    const current = event.target.closest ? event.target.closest(".ride-button") : null;
    if (!current) return;
    const index = Number(current.dataset.index);
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10, Home: -Infinity, End: Infinity };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = Math.max(0, Math.min(state.visible.length - 1, index + moves[event.key]));
    focusRow(next);
  }

  function focusRow(index) {
    const list = $("ride-list");
    const top = index * ROW_HEIGHT;
    if (top < list.scrollTop) list.scrollTop = top;
    else if (top + ROW_HEIGHT > list.scrollTop + list.clientHeight) list.scrollTop = top + ROW_HEIGHT - list.clientHeight;
    renderRows();
    const button = $("ride-list-spacer").querySelector(`[data-index="${index}"]`);
    if (button) button.focus();
  }

  function selectRide(id, { fly = true } = {}) {
    state.selected = id;
    highlight(id);
    const ride = state.ridesById.get(id);
    if (fly && ride && ride.bbox) {
      const [w, s, e, n] = ride.bbox;
      map.fitBounds([[w, s], [e, n]], { padding: 60, maxZoom: 15, duration: 600 });
    }
    writeHash();
    for (const b of $("ride-list-spacer").querySelectorAll(".ride-button")) {
      if (b.dataset.rideId === id) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
    }
  }

  function highlight(id) {
    if (!map || !map.getLayer("activities-selected")) return;
    map.setFilter("activities-selected", ["==", ["to-string", ["get", "id"]], id ? String(id) : "\u0000"]);
  }

  // ---- stats ----------------------------------------------------------------------------------
  function totalsBy(rides, keyOf) {
    const groups = new Map();
    for (const r of rides) {
      const key = keyOf(r);
      const g = groups.get(key) || { rides: 0, distance: 0, moving: 0, elevation: 0 };
      g.rides += 1;
      g.distance += Number(r.distance_m) || 0;
      g.moving += Number(r.moving_s) || 0;
      g.elevation += Number(r.elevation_gain_m) || 0;
      groups.set(key, g);
    }
    return groups;
  }

  function statsTable(caption, groups, order) {
    const table = document.createElement("table");
    table.className = "stats";
    const cap = document.createElement("caption");
    cap.textContent = caption;
    const head = document.createElement("tr");
    for (const h of [caption === "By year" ? "Year" : "Type", "Rides", "km", "Hours", "Climb m"]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = h;
      head.append(th);
    }
    const thead = document.createElement("thead");
    thead.append(head);
    const tbody = document.createElement("tbody");
    for (const key of order) {
      const g = groups.get(key);
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = caption === "By year" ? key : typeLabel(key);
      tr.append(th);
      for (const v of [g.rides, (g.distance / 1000).toFixed(0), (g.moving / 3600).toFixed(1), g.elevation.toFixed(0)]) {
        const td = document.createElement("td");
        td.textContent = String(v);
        tr.append(td);
      }
      tbody.append(tr);
    }
    table.append(cap, thead, tbody);
    return table;
  }

  function renderStats() {
    const sel = selection();
    const rides = state.rides.filter((r) => selects(r, sel));
    const box = $("stats");
    if (!rides.length) { box.replaceChildren(); return; }
    const years = totalsBy(rides, (r) => String(r.start || "").slice(0, 4) || "?");
    const types = totalsBy(rides, (r) => r.type || "Other");
    box.replaceChildren(
      statsTable("By year", years, [...years.keys()].sort().reverse()),
      statsTable("By type", types, [...types.keys()].sort((a, b) => types.get(b).rides - types.get(a).rides)),
    );
  }

  // ---- explorer tiles -------------------------------------------------------------------------
  function tileBounds(x, y, z) {
    const n = 2 ** z;
    const lon = (v) => (v / n) * 360 - 180;
    const lat = (v) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * v) / n))) * 180) / Math.PI;
    return [lon(x), lat(y + 1), lon(x + 1), lat(y)]; // w, s, e, n
  }

  function boxPolygon([w, s, e, n], props) {
    return { type: "Feature", properties: props || {}, geometry: { type: "Polygon", coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] } };
  }

  async function loadExplorer() {
    const { status, body } = await api("GET", "/api/user/explorer");
    if (status !== 200 || !body) { state.explorer = null; renderExplorerSummary(); return; }
    state.explorer = body;
    const z = Number(body.zoom) || EXPLORER_ZOOM;
    const tiles = (body.tiles || []).map(([x, y]) => boxPolygon(tileBounds(x, y, z)));
    const square = body.max_square && body.max_square.size
      ? [boxPolygon((() => {
        const { x, y, size } = body.max_square;
        const a = tileBounds(x, y, z); const b = tileBounds(x + size - 1, y + size - 1, z);
        return [a[0], b[1], b[2], a[3]];
      })(), { size: body.max_square.size })]
      : [];
    whenStyleReady(() => {
      const data = { tiles: { type: "FeatureCollection", features: tiles }, square: { type: "FeatureCollection", features: square } };
      if (map.getSource("explorer-tiles")) {
        map.getSource("explorer-tiles").setData(data.tiles);
        map.getSource("explorer-square").setData(data.square);
      } else {
        map.addSource("explorer-tiles", { type: "geojson", data: data.tiles });
        map.addSource("explorer-square", { type: "geojson", data: data.square });
        const before = map.getLayer("activities-casing") ? "activities-casing" : undefined;
        const visibility = $("explorer-toggle").checked ? "visible" : "none";
        map.addLayer({ id: "explorer-fill", type: "fill", source: "explorer-tiles", layout: { visibility },
          paint: { "fill-color": "#3f51b5", "fill-opacity": 0.22, "fill-outline-color": "#3f51b5" } }, before);
        map.addLayer({ id: "explorer-square", type: "line", source: "explorer-square", layout: { visibility },
          paint: { "line-color": "#1a237e", "line-width": 3 } }, before);
      }
    });
    renderExplorerSummary();
  }

  function renderExplorerSummary() {
    const e = state.explorer;
    const tiles = e ? (e.tiles || []).length : 0;
    const size = e && e.max_square ? e.max_square.size : 0;
    $("explorer-summary").textContent = e ? `${tiles} tiles explored · max square ${size}×${size}` : "";
  }

  function clearExplorer() {
    if (!map) return;
    for (const id of ["explorer-fill", "explorer-square"]) if (map.getLayer(id)) map.removeLayer(id);
    for (const id of ["explorer-tiles", "explorer-square"]) if (map.getSource(id)) map.removeSource(id);
    state.explorer = null;
    renderExplorerSummary();
  }

  function toggleExplorer() {
    const visibility = $("explorer-toggle").checked ? "visible" : "none";
    for (const id of ["explorer-fill", "explorer-square"]) if (map.getLayer(id)) map.setLayoutProperty(id, "visibility", visibility);
  }

  // ---- privacy --------------------------------------------------------------------------------
  function setPrivacy(p) {
    state.privacy = {
      zones: (p.zones || []).map((z) => ({ lat: Number(z.lat), lon: Number(z.lon), radius_m: Number(z.radius_m) })),
      hide_ends_m: Number(p.hide_ends_m) || 0,
    };
    $("hide-ends").value = String(state.privacy.hide_ends_m);
    renderZones();
  }

  function setPrivacyOpen(open) {
    $("privacy").hidden = !open;
    $("privacy-toggle").setAttribute("aria-expanded", String(open));
    if (!open) setAddingZone(false);
    if (map) map.resize();
    if (open) $("add-zone").focus();
  }

  function setAddingZone(on) {
    state.addingZone = on;
    $("add-zone").setAttribute("aria-pressed", String(on));
    $("add-zone-hint").hidden = !on;
    if (map) map.getCanvas().classList.toggle("picking", on);
  }

  function renderZones() {
    const list = $("zones");
    list.replaceChildren();
    state.privacy.zones.forEach((zone, i) => {
      const item = document.createElement("li");
      item.className = "zone";
      const title = document.createElement("span");
      title.textContent = `Zone ${i + 1} (${zone.lat.toFixed(4)}, ${zone.lon.toFixed(4)})`;
      const label = document.createElement("label");
      const rangeId = `zone-radius-${i}`;
      label.htmlFor = rangeId;
      label.textContent = "Radius";
      const range = document.createElement("input");
      range.type = "range"; range.id = rangeId;
      range.min = "100"; range.max = "2000"; range.step = "50";
      range.value = String(zone.radius_m);
      range.setAttribute("aria-label", `Radius of zone ${i + 1} in metres`);
      const value = document.createElement("output");
      value.htmlFor = rangeId;
      value.textContent = `${zone.radius_m} m`;
      range.addEventListener("input", () => {
        zone.radius_m = Number(range.value);
        value.textContent = `${zone.radius_m} m`;
        drawZones();
      });
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", `Remove zone ${i + 1}`);
      remove.addEventListener("click", () => {
        state.privacy.zones.splice(i, 1);
        renderZones();
        $("add-zone").focus();
      });
      item.append(title, label, range, value, remove);
      list.append(item);
    });
    drawZones();
  }

  function circle(lon, lat, radiusM, steps = 64) {
    const ring = [];
    const dLat = radiusM / 111320;
    const dLon = radiusM / (111320 * Math.cos((lat * Math.PI) / 180));
    for (let i = 0; i <= steps; i++) {
      const a = (i / steps) * 2 * Math.PI;
      ring.push([lon + dLon * Math.cos(a), lat + dLat * Math.sin(a)]);
    }
    return ring;
  }

  function drawZones() {
    if (!map) return;
    const data = {
      type: "FeatureCollection",
      features: state.privacy.zones.map((z, i) => ({
        type: "Feature", properties: { index: i }, geometry: { type: "Polygon", coordinates: [circle(z.lon, z.lat, z.radius_m)] },
      })),
    };
    whenStyleReady(() => {
      if (map.getSource("privacy-zones")) { map.getSource("privacy-zones").setData(data); return; }
      map.addSource("privacy-zones", { type: "geojson", data });
      map.addLayer({ id: "privacy-fill", type: "fill", source: "privacy-zones", paint: { "fill-color": "#6a1b9a", "fill-opacity": 0.15 } });
      map.addLayer({ id: "privacy-outline", type: "line", source: "privacy-zones", paint: { "line-color": "#6a1b9a", "line-width": 2, "line-dasharray": [2, 1] } });
    });
  }

  async function savePrivacy() {
    const error = $("privacy-error");
    error.hidden = true;
    $("privacy-status").textContent = "Saving…";
    const hide = $("hide-ends").value.trim();
    const body = { zones: state.privacy.zones.map((z) => ({ lat: z.lat, lon: z.lon, radius_m: z.radius_m })),
      hide_ends_m: hide === "" ? null : Number(hide) };
    let result;
    try {
      result = await api("PUT", "/api/user/privacy", body);
    } catch (e) {
      $("privacy-status").textContent = "";
      if (!(e instanceof SignedOut)) { error.textContent = "Could not save: network error."; error.hidden = false; }
      return;
    }
    const { status, body: answer } = result;
    if (status === 200 && answer) {
      setPrivacy(answer);
      $("privacy-status").textContent = "Saved: your map is being redrawn with these settings.";
      // The re-tiling publishes a new tiles_url without a sync: look for it a few times.
      for (const delay of [3000, 8000, 20000, 45000]) {
        setTimeout(() => { if (state.signedIn) loadUser().catch(() => {}); }, delay);
      }
      return;
    }
    $("privacy-status").textContent = "";
    const field = answer && answer.field ? ` (${answer.field})` : "";
    error.textContent = `${(answer && answer.message) || `Could not save (${status}).`}${field}`;
    error.hidden = false;
  }

  // ---- the URL keeps the view and the selected ride: #map=zoom/lat/lon&ride=id ---------------
  function parseHash() {
    const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    const out = {};
    const m = (params.get("map") || "").split("/").map(Number);
    if (m.length === 3 && m.every(Number.isFinite) && Math.abs(m[1]) <= 90 && Math.abs(m[2]) <= 180) {
      out.zoom = Math.max(0, Math.min(22, m[0]));
      out.center = [m[2], m[1]];
    }
    if (params.get("ride")) out.ride = params.get("ride");
    return out;
  }

  function writeHash() {
    if (!map) return;
    const c = map.getCenter();
    const z = map.getZoom();
    const digits = Math.max(0, Math.ceil(Math.log10(2 ** z * 512 / 360)));
    const params = new URLSearchParams();
    params.set("map", `${z.toFixed(2)}/${c.lat.toFixed(digits)}/${c.lng.toFixed(digits)}`);
    if (state.selected) params.set("ride", state.selected);
    const hash = `#${params.toString().replace(/%2F/g, "/")}`;
    if (hash !== window.location.hash) history.replaceState(null, "", `${window.location.pathname}${window.location.search}${hash}`);
  }

  // ---- formatting -------------------------------------------------------------------------------
  function formatDistance(metres) {
    const m = Number(metres);
    return Number.isFinite(m) && m > 0 ? `${(m / 1000).toFixed(1)} km` : "";
  }

  function formatDate(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? "" : d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
  }

  // ---- map events ---------------------------------------------------------------------------------
  function wireMap() {
    map.on("idle", () => {
      if (!map.getSource(SOURCE)) return;
      if (state.focusPending) focusOnMostRides(); // the tiles of every ride are loaded now
      let added = false;
      for (const f of map.querySourceFeatures(SOURCE, { sourceLayer: LAYER })) {
        if (learn(f.properties.type, f.properties.start)) added = true;
      }
      if (added) renderFilters();
      const layer = state.mode === "heat" ? "activities-density" : "activities-line";
      const ids = new Set(map.queryRenderedFeatures({ layers: [layer] }).map((f) => f.properties.id));
      $("feature-count").textContent = `${ids.size} ride${ids.size === 1 ? "" : "s"} in view`;
    });
    map.on("moveend", () => {
      writeHash();
      if ($("in-view").checked) refreshList();
    });
    const addZoneAt = (lngLat) => {
      state.privacy.zones.push({ lat: Number(lngLat.lat.toFixed(5)), lon: Number(lngLat.lng.toFixed(5)), radius_m: 500 });
      setAddingZone(false);
      renderZones();
    };
    // Keyboard: while picking, Enter on the focused map puts the zone at the map's centre.
    map.getCanvas().addEventListener("keydown", (event) => {
      if (state.addingZone && event.key === "Enter") { event.preventDefault(); addZoneAt(map.getCenter()); }
    });
    map.on("click", (e) => {
      if (state.addingZone) { addZoneAt(e.lngLat); return; }
      if (!map.getLayer("activities-hit")) return;
      const hit = map.queryRenderedFeatures(e.point, { layers: ["activities-hit"] })[0];
      if (hit) popup(hit.properties, e.lngLat);
    });
    map.on("mouseenter", "activities-hit", () => { map.getCanvas().classList.add("pointing"); });
    map.on("mouseleave", "activities-hit", () => { map.getCanvas().classList.remove("pointing"); });
  }

  function popup(p, lngLat) {
    const box = document.createElement("div");
    box.className = "popup";
    const title = document.createElement("h3");
    title.textContent = p.name || "Activity";
    const meta = document.createElement("p");
    meta.textContent = [typeLabel(String(p.type || "")), formatDate(p.start), formatDistance(p.distance_m)].filter(Boolean).join(" · ");
    const link = document.createElement("a");
    link.href = `https://intervals.icu/activities/${encodeURIComponent(p.id)}`;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = "Open on intervals.icu";
    const linkLine = document.createElement("p");
    linkLine.append(link);
    box.append(title, meta, linkLine);
    selectRide(String(p.id), { fly: false });
    new maplibregl.Popup({ maxWidth: "280px" }).setLngLat(lngLat).setDOMContent(box).addTo(map);
  }

  // ---- controls -------------------------------------------------------------------------------
  function wireControls() {
    $("connect").addEventListener("click", connect);
    $("sync").addEventListener("click", () => startSync().catch(() => {}));
    $("sign-out").addEventListener("click", () => signOut().catch(() => {}));
    $("year-filter").addEventListener("change", applyFilters);
    $("fit-all").addEventListener("click", fitAll);
    for (const radio of document.querySelectorAll('input[name="mode"]')) {
      radio.addEventListener("change", () => { if (radio.checked) setMode(radio.value); });
    }
    $("explorer-toggle").addEventListener("change", toggleExplorer);
    $("ride-search").addEventListener("input", () => { $("ride-list").scrollTop = 0; refreshList(); });
    $("in-view").addEventListener("change", refreshList);
    $("ride-list").addEventListener("scroll", renderRows, { passive: true });
    $("ride-list").addEventListener("keydown", onListKey);
    $("ride-list").addEventListener("click", (event) => {
      const button = event.target.closest(".ride-button");
      if (button) selectRide(button.dataset.rideId);
    });
    $("privacy-toggle").addEventListener("click", () => setPrivacyOpen($("privacy").hidden));
    $("privacy-close").addEventListener("click", () => { setPrivacyOpen(false); $("privacy-toggle").focus(); });
    $("add-zone").addEventListener("click", () => setAddingZone(!state.addingZone));
    $("privacy-save").addEventListener("click", () => savePrivacy());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && state.addingZone) setAddingZone(false);
    });
    const params = new URLSearchParams(window.location.search);
    const login = params.get("login");
    if (login === "denied" || login === "failed") {
      // Kept for the signed-out screen, which the 401 of the first /api/user call shows next.
      state.loginNotice = login === "denied"
        ? "intervals.icu access was not granted."
        : "Signing in with intervals.icu failed: try again.";
      showMessage(state.loginNotice);
      params.delete("login");
      const query = params.toString();
      history.replaceState(null, "", `${window.location.pathname}${query ? `?${query}` : ""}${window.location.hash}`);
    }
  }

  // ---- start --------------------------------------------------------------------------------
  async function start() {
    wireControls();
    const { style, failed } = await configuredStyle();
    state.basemap = style ? "configured" : "offline";
    createMap(style || offlineStyle());
    if (!style) {
      loadOfflineBasemap().catch(() => showNotice("The bundled basemap could not be loaded."));
      loadPlaces().catch(() => {});  // a basemap without place names is still a basemap
      if (failed) showNotice("The configured basemap could not be loaded: showing the built-in map.");
    }
    map.on("error", (e) => {
      // A configured style whose tiles or sprites fail later: keep the rides, say so once.
      if (state.basemap === "configured" && e && e.sourceId && e.sourceId !== SOURCE && $("notice").hidden) {
        showNotice("Parts of the basemap could not be loaded.");
      }
    });
    window.ridelines.map = map;
    try {
      const user = await loadUser();
      if (user) await pollSync();
    } catch (e) {
      if (!(e instanceof SignedOut)) showMessage("Ridelines could not reach its server: reload to try again.");
    }
  }

  // For the end-to-end tests and curious developers.
  window.ridelines = { map: null, state, focusBounds, tileBounds, refreshList, selectRide };
  start();
})();
