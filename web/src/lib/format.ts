// Small formatting helpers shared by the views.

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** The camera's wall-clock time as it was shown on the camera ("2024-05-01 12:00"). */
export function formatLocal(local: string | null | undefined): string {
  if (!local) return "";
  return local.replace("T", " ").slice(0, 16);
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function placeName(place: { name?: string | null; country?: string | null } | null | undefined): string {
  if (!place) return "";
  return [place.name, place.country].filter(Boolean).join(", ");
}

/** "2024-05-01T12:00" from a local time, for <input type="datetime-local">. */
export function toInputLocal(local: string | null | undefined): string {
  return local ? local.slice(0, 16) : "";
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
}

/** An exposure time as photographers write it: 1/75 s below a second, 2.5 s above. */
export function formatExposure(value: number | string | null | undefined): string {
  if (value === null || value === undefined || value === "") return "";
  const v = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(v) || v <= 0) return String(value);
  if (v >= 1) return `${Number(v.toFixed(1))} s`;
  return `1/${Math.round(1 / v)} s`;
}

/** "Canon EOS 40D", not "Canon Canon EOS 40D": many cameras repeat their make in the model. */
export function cameraName(make: string | null | undefined, model: string | null | undefined): string {
  const m = (make ?? "").trim();
  const d = (model ?? "").trim();
  if (!m) return d;
  if (!d) return m;
  const first = m.split(/\s+/)[0]!.toLowerCase();
  return d.toLowerCase().startsWith(first) ? d : `${m} ${d}`;
}
