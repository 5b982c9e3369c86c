// Settings the page reads at run time from /config.json (served by nginx beside the page, so the tile
// server can change without a rebuild). A missing or broken file gives the defaults.

export interface PageConfig {
  /** Leaflet tile URL template; empty: no tiles (offline), pins and areas still work. */
  tileUrl: string;
  tileAttribution: string;
  tileMaxZoom: number;
}

export const DEFAULT_CONFIG: PageConfig = {
  tileUrl: "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
  tileAttribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
  tileMaxZoom: 19,
};

export function parseConfig(raw: unknown): PageConfig {
  const c = raw && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
  return {
    tileUrl: typeof c.tileUrl === "string" ? c.tileUrl.trim() : DEFAULT_CONFIG.tileUrl,
    tileAttribution: typeof c.tileAttribution === "string" ? c.tileAttribution : DEFAULT_CONFIG.tileAttribution,
    tileMaxZoom: typeof c.tileMaxZoom === "number" && c.tileMaxZoom > 0 && c.tileMaxZoom <= 22
      ? c.tileMaxZoom : DEFAULT_CONFIG.tileMaxZoom,
  };
}

let loading: Promise<PageConfig> | null = null;

export function loadConfig(): Promise<PageConfig> {
  loading ??= fetch("/config.json", { cache: "no-cache" })
    .then((r) => (r.ok ? r.json() : {}))
    .catch(() => ({}))
    .then(parseConfig);
  return loading;
}
