// Click on the map to choose a position (used to set GPS on one item or many).
import { useEffect, useRef } from "react";
import { loadConfig } from "../lib/config";
import { createBaseMap, disposeMap, L } from "./leafletBase";

export interface LatLon {
  lat: number;
  lon: number;
}

export interface PickerProps {
  value: LatLon | null;
  onPick(p: LatLon): void;
  height?: number;
  /** The hint above the map; null for none (a map that only shows). */
  help?: string | null;
}

export default function LocationPickerMap({ value, onPick, height = 260, help = "Click the map to choose the position." }: PickerProps) {
  const el = useRef<HTMLDivElement | null>(null);
  const map = useRef<L.Map | null>(null);
  const marker = useRef<L.CircleMarker | null>(null);
  const pick = useRef(onPick);
  pick.current = onPick;

  useEffect(() => {
    let disposed = false;
    void loadConfig().then((config) => {
      if (disposed || !el.current) return;
      const m = createBaseMap(el.current, config);
      m.setView(value ? [value.lat, value.lon] : [20, 0], value ? 10 : 2);
      m.on("click", (e: L.LeafletMouseEvent) => {
        const ll = e.latlng.wrap();
        pick.current({ lat: ll.lat, lon: ll.lng });
      });
      map.current = m;
      if (value) marker.current = L.circleMarker([value.lat, value.lon], { radius: 8, color: "#d97706", fillOpacity: 0.8 }).addTo(m);
    });
    return () => {
      disposed = true;
      disposeMap(map.current);
      map.current = null;
      marker.current = null;
    };
    // The map is made once; `value` changes move the marker below.
  }, []);

  useEffect(() => {
    const m = map.current;
    if (!m) return;
    marker.current?.remove();
    marker.current = value ? L.circleMarker([value.lat, value.lon], { radius: 8, color: "#d97706", fillOpacity: 0.8 }).addTo(m) : null;
  }, [value?.lat, value?.lon, value]);

  return (
    <div className="picker">
      {help && <p className="small muted">{help}</p>}
      <div ref={el} className="map picker-map" style={{ height }} role="application"
        aria-label={help ? `Map: ${help}` : "Map of the position"} />
    </div>
  );
}
