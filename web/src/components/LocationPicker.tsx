import { lazy, Suspense } from "react";
import type { PickerProps } from "./LocationPickerMap";

const PickerMap = lazy(() => import("./LocationPickerMap"));

/** The map picker, loaded with Leaflet only when it is first shown. */
export function LocationPicker(props: PickerProps) {
  return (
    <Suspense fallback={<p className="status">Loading the map…</p>}>
      <PickerMap {...props} />
    </Suspense>
  );
}
