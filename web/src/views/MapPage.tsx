// The map: clusters for the current view (clustered by the API per zoom), an area drawn with the
// rectangle tool becomes the bbox filter, and the results of the search are listed below the map.
import { useEffect, useRef, useState } from "react";
import { useNavigate } from "react-router";
import { api, messageOf } from "../api/client";
import type { Bbox, MapAnswer } from "../api/types";
import { createBaseMap, disposeMap, L } from "../components/leafletBase";
import { MediaBrowser } from "../components/MediaBrowser";
import { clickAction, markerFor, viewToBbox, type Marker } from "../lib/clusters";
import { loadConfig, type PageConfig } from "../lib/config";
import { filterParams, filtersKey, formatBbox, type Filters } from "../lib/filters";
import { plural } from "../lib/format";
import { useFilters } from "../lib/hooks";
import { itemHref } from "../lib/nav";

function boundsOf([w, s, e, n]: Bbox): L.LatLngBoundsExpression {
  return [[s, w], [n, e < w ? e + 360 : e]];
}

function iconFor(m: Marker): L.DivIcon {
  if (m.kind === "pin") {
    return L.divIcon({
      className: `pin pin-${m.source}`,
      html: m.source === "manual" ? '<span aria-hidden="true">✎</span>' : "",
      iconSize: m.source === "manual" ? [22, 22] : [16, 16],
    });
  }
  return L.divIcon({
    className: "cluster",
    html: `<span style="width:${m.size}px;height:${m.size}px;line-height:${m.size}px">${m.text}</span>`,
    iconSize: [m.size, m.size],
  });
}

export default function MapPage() {
  const [filters, setFilters] = useFilters();
  const navigate = useNavigate();
  const el = useRef<HTMLDivElement | null>(null);
  const map = useRef<L.Map | null>(null);
  const layer = useRef<L.LayerGroup | null>(null);
  const area = useRef<L.Rectangle | null>(null);
  const [config, setConfig] = useState<PageConfig | null>(null);
  const [drawing, setDrawing] = useState(false);
  const [answer, setAnswer] = useState<MapAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tileTrouble, setTileTrouble] = useState(false);
  const [view, setView] = useState<{ bbox: Bbox; zoom: number } | null>(null);
  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const fitted = useRef(false);
  const key = filtersKey(filters);

  // The map itself, made once.
  useEffect(() => {
    let disposed = false;
    void loadConfig().then((c) => {
      if (disposed || !el.current) return;
      setConfig(c);
      const m = createBaseMap(el.current, c, () => setTileTrouble(true));
      const b = filtersRef.current.bbox;
      if (b) {
        m.fitBounds(boundsOf(b), { padding: [20, 20], animate: false });
        fitted.current = true;
      } else m.setView([25, 0], 2);
      layer.current = L.layerGroup().addTo(m);
      const report = () => {
        const bounds = m.getBounds();
        setView({ bbox: viewToBbox(bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()), zoom: m.getZoom() });
      };
      m.on("moveend", report);
      report();
      map.current = m;
    });
    return () => {
      disposed = true;
      disposeMap(map.current);
      map.current = null;
    };
  }, []);

  // Clusters for the view and the filters.
  useEffect(() => {
    if (!view || filters.no_gps) {
      setAnswer(null);
      return;
    }
    const controller = new AbortController();
    const params = filterParams(filters);
    params.set("view", formatBbox(view.bbox));
    params.set("zoom", String(Math.round(view.zoom)));
    const t = setTimeout(() => {
      api.get<MapAnswer>("/api/map", params, controller.signal)
        .then((a) => { setAnswer(a); setError(null); })
        .catch((e: unknown) => { if (!controller.signal.aborted) setError(messageOf(e)); });
    }, 150);
    return () => {
      clearTimeout(t);
      controller.abort();
    };
  }, [view, key]);

  // Draw them.
  useEffect(() => {
    const m = map.current;
    const group = layer.current;
    if (!m || !group) return;
    group.clearLayers();
    if (!answer) return;
    for (const c of answer.clusters) {
      const marker = markerFor(c);
      const lm = L.marker([marker.lat, marker.lon], { icon: iconFor(marker), keyboard: true, title: marker.label, alt: marker.label,
        riseOnHover: true });
      lm.on("click", () => {
        const action = clickAction(marker, m.getZoom(), m.getMaxZoom());
        if (action.type === "open") navigate(itemHref(action.mediaId, filtersKey(filtersRef.current)));
        else if (action.type === "zoom") m.fitBounds(boundsOf(action.bbox), { padding: [30, 30], animate: false });
        else setFilters({ ...filtersRef.current, bbox: action.bbox, no_gps: false });
      });
      lm.addTo(group);
    }
    // The first answer at the world view: frame what there is.
    if (!fitted.current && answer.clusters.length > 0) {
      fitted.current = true;
      const lats = answer.clusters.map((c) => c.lat);
      const lons = answer.clusters.map((c) => c.lon);
      const pad = 0.01;
      m.fitBounds([[Math.min(...lats) - pad, Math.min(...lons) - pad], [Math.max(...lats) + pad, Math.max(...lons) + pad]],
        { padding: [30, 30], maxZoom: 14, animate: false });
    }
  }, [answer, navigate, setFilters]);

  // The drawn area.
  useEffect(() => {
    const m = map.current;
    area.current?.remove();
    area.current = null;
    if (m && filters.bbox) {
      area.current = L.rectangle(boundsOf(filters.bbox), { color: "#2563eb", weight: 2, dashArray: "6 4", fillOpacity: 0.05,
        interactive: false }).addTo(m);
    }
  }, [filters.bbox, config]);

  // The rectangle tool: press, drag, release.
  useEffect(() => {
    const m = map.current;
    if (!m || !drawing) return;
    m.dragging.disable();
    m.boxZoom.disable();
    el.current?.classList.add("drawing");
    let start: L.LatLng | null = null;
    let rect: L.Rectangle | null = null;
    const down = (e: L.LeafletMouseEvent) => {
      start = e.latlng;
      rect = L.rectangle(L.latLngBounds(start, start), { color: "#2563eb", weight: 2 }).addTo(m);
    };
    const move = (e: L.LeafletMouseEvent) => {
      if (start && rect) rect.setBounds(L.latLngBounds(start, e.latlng));
    };
    const up = (e: L.LeafletMouseEvent) => {
      if (!start) return;
      const b = L.latLngBounds(start, e.latlng);
      rect?.remove();
      start = null;
      setDrawing(false);
      if (Math.abs(b.getEast() - b.getWest()) < 1e-7 || Math.abs(b.getNorth() - b.getSouth()) < 1e-7) return;
      setFilters({ ...filtersRef.current, bbox: viewToBbox(b.getWest(), b.getSouth(), b.getEast(), b.getNorth()), no_gps: false });
    };
    m.on("mousedown", down);
    m.on("mousemove", move);
    m.on("mouseup", up);
    return () => {
      m.off("mousedown", down);
      m.off("mousemove", move);
      m.off("mouseup", up);
      rect?.remove();
      m.dragging.enable();
      m.boxZoom.enable();
      el.current?.classList.remove("drawing");
    };
  }, [drawing, setFilters]);

  useEffect(() => {
    const esc = (e: KeyboardEvent) => { if (e.key === "Escape") setDrawing(false); };
    window.addEventListener("keydown", esc);
    return () => window.removeEventListener("keydown", esc);
  }, []);

  function setNoGps(on: boolean) {
    const next: Filters = { ...filters, no_gps: on, bbox: on ? null : filters.bbox };
    setFilters(next);
  }

  const header = (
    <div className="map-wrap">
      <div className="map-tools" role="toolbar" aria-label="Map tools">
        <button type="button" aria-pressed={drawing} onClick={() => setDrawing((d) => !d)} disabled={filters.no_gps}>
          {drawing ? "Drag on the map… (Esc cancels)" : "▭ Draw an area"}
        </button>
        <button type="button" disabled={!view || filters.no_gps} onClick={() => view && setFilters({ ...filters, bbox: view.bbox })}>
          Search this view
        </button>
        {filters.bbox && <button type="button" onClick={() => setFilters({ ...filters, bbox: null })}>Remove area</button>}
        <label className="switch">
          <input type="checkbox" role="switch" checked={filters.no_gps} aria-checked={filters.no_gps}
            onChange={(e) => setNoGps(e.target.checked)} />
          No GPS
        </label>
        <span className="legend" aria-label="Legend">
          <span className="pin pin-exif" aria-hidden="true" /> from the file
          <span className="pin pin-manual" aria-hidden="true"><span>✎</span></span> set by hand
        </span>
        <span role="status" aria-live="polite" className="small">
          {filters.no_gps ? "Items without a position are listed below."
            : answer ? `${plural(answer.total, "item")} with a position in view` : ""}
        </span>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {tileTrouble && <p className="notice small" role="status">Map tiles could not be loaded (offline?); pins and areas still work.</p>}
      <div ref={el} className={`map main-map${filters.no_gps ? " dimmed" : ""}`} role="application"
        aria-label="Map of the items; pins open an item, clusters zoom in" />
    </div>
  );

  return <MediaBrowser filters={filters} onFilters={setFilters} header={header} label="Items in the search" />;
}
