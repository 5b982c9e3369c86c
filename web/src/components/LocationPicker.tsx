import { lazy, Suspense } from "react";
import type { LatLon } from "./LocationPickerMap";

const PickerMap = lazy(() => import("./LocationPickerMap"));

/** The map picker, loaded with Leaflet only when it is first shown. */
export function LocationPicker(props: { value: LatLon | null; onPick(p: LatLon): void; height?: number }) {
  return (
    <Suspense fallback={<p className="status">Loading the map…</p>}>
      <PickerMap {...props} />
    </Suspense>
  );
}
