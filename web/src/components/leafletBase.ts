// One way to make a Leaflet map: tiles from the page config when there are any; without them (an
// offline machine) a graticule, so pins and areas still have a frame of reference.
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import type { PageConfig } from "../lib/config";

export function createBaseMap(el: HTMLElement, config: PageConfig, onTileTrouble?: () => void): L.Map {
  const map = L.map(el, {
    worldCopyJump: true,
    maxZoom: config.tileMaxZoom,
    minZoom: 1,
    keyboard: true,
    zoomControl: true,
  });
  if (config.tileUrl) {
    let failures = 0;
    L.tileLayer(config.tileUrl, { maxZoom: config.tileMaxZoom, attribution: config.tileAttribution, crossOrigin: false })
      .on("tileerror", () => {
        failures += 1;
        if (failures === 3) onTileTrouble?.();
      })
      .addTo(map);
  } else {
    const lines = L.layerGroup();
    for (let lat = -60; lat <= 60; lat += 30) {
      L.polyline([[lat, -540], [lat, 540]], { color: "#8899aa", weight: lat === 0 ? 1.2 : 0.6, interactive: false }).addTo(lines);
    }
    for (let lon = -540; lon <= 540; lon += 30) {
      L.polyline([[-85, lon], [85, lon]], { color: "#8899aa", weight: lon % 360 === 0 ? 1.2 : 0.6, interactive: false }).addTo(lines);
    }
    lines.addTo(map);
    map.attributionControl.addAttribution("No map tiles configured: pins and areas only");
  }
  return map;
}

/** Removes a map, first stopping any pan or zoom under way: Leaflet throws (`_leaflet_pos` of
 * undefined) when an animation ends on a map that is gone. */
export function disposeMap(map: L.Map | null): void {
  if (!map) return;
  map.stop();
  map.remove();
}

export { L };
