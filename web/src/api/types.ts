// The API's shapes as api/ROUTES.md states them. Routes land one by one; src/api/contract.ts checks
// these against the generated schema.d.ts wherever the schema already has the model, so a drift fails
// `npm run typecheck`.

export type Role = "viewer" | "editor" | "admin";

export interface User {
  id: number;
  name: string;
  role: Role;
}

export interface LoginResult {
  token: string;
  csrf_token: string;
  expires_at: string;
  user: User;
}

export interface ApiErrorBody {
  error: string;
  message: string;
  problems?: { field: string; problem: string }[];
  request_id?: string;
}

export interface PlaceShort {
  name: string | null;
  country_code: string | null;
  country: string | null;
}

export interface MediaSummary {
  id: number;
  kind: "photo" | "video";
  format: string;
  mime_type: string;
  width: number | null;
  height: number | null;
  duration_s: number | null;
  name: string;
  original_path: string;
  taken_at: string | null;
  taken_at_local: string | null;
  time_source: "file" | "manual" | null;
  lat: number | null;
  lon: number | null;
  position_source: "exif" | "manual" | null;
  place: PlaceShort | null;
  favourite: boolean;
  make: string | null;
  model: string | null;
  ingested_at: string;
  thumbnail_url: string;
  rank?: number | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
  total?: number | null;
}

export interface Facets {
  total?: number;
  labels?: { value: string; count: number }[];
  people?: { id: number; name: string | null; count: number }[];
  cameras?: { make: string | null; model: string | null; count: number }[];
  formats?: { kind: string; format: string; count: number }[];
  kinds?: { value: string; count: number }[];
  years?: { year: number; count: number }[];
  months?: { month: string; count: number }[];
  places?: { country_code: string | null; country: string | null; count: number }[];
  sources?: { value: string; count: number }[];
}

export type Bbox = [west: number, south: number, east: number, north: number];

export interface MapCluster {
  lat: number;
  lon: number;
  count: number;
  bbox: Bbox;
  media_id: number | null;
  position_source?: "exif" | "manual" | null;
}

export interface MapAnswer {
  clusters: MapCluster[];
  total: number;
}

/** A box normalised (0..1) to the displayed image. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface ObjectHit {
  label: string;
  confidence: number;
  frame_ms: number | null;
  box: Box;
}

export interface FaceHit {
  id: number;
  frame_ms: number | null;
  box: Box;
  person_id: number | null;
  person_name: string | null;
  chip_url: string;
}

export interface OcrWord {
  text: string;
  box: Box;
  confidence?: number;
}

export interface OcrLine {
  text: string;
  box?: Box;
  words?: OcrWord[];
}

export interface Segment {
  start_s: number;
  end_s: number;
  text: string;
}

export interface Comment {
  id: number;
  media_id: number;
  author: string;
  user_id: number | null;
  body: string;
  created_at: string;
}

export interface Alias {
  original_path: string;
  source: string | null;
  duplicate_path: string | null;
  created_at: string;
}

export interface TimeValue {
  taken_at: string | null;
  taken_at_local: string | null;
  offset_minutes: number | null;
  source?: string | null;
  set_at?: string;
  set_by?: string | null;
}

export interface MediaDetail extends MediaSummary {
  sha512: string;
  size_bytes: number;
  source: string | null;
  storage_path: string;
  camera: {
    make: string | null;
    model: string | null;
    lens: string | null;
    aperture: number | null;
    exposure_time: number | string | null;
    iso: number | null;
    focal_length: number | null;
  } | null;
  exif_gps: { lat: number; lon: number; alt: number | null } | null;
  manual_gps: { lat: number; lon: number; set_at: string; set_by: string | null } | null;
  time: { exif: TimeValue | null; manual: TimeValue | null } | null;
  place: (PlaceShort & { admin1?: string | null; admin2?: string | null }) | null;
  video: { duration_s: number | null; video_codec: string | null; audio_codec: string | null;
    frame_rate: number | null } | null;
  orientation: number | null;
  aliases: Alias[];
  objects: { backend: string; model: string; items: ObjectHit[] } | null;
  faces: FaceHit[];
  ocr: { text: string; rotation: number | null; lines: OcrLine[] } | null;
  speech: { status: string; language: string | null; text: string; segments: Segment[];
    subtitles_url: string | null } | null;
  keyframes: { ms: number; hash: string | null }[];
  dhash: string | null;
  near_duplicates: (MediaSummary & { distance: number })[];
  comments: Comment[];
  albums: { id: number; name: string }[];
  jobs: Record<string, { state: string; error: string | null }>;
  playback: { url: string; mime_type: string; status: string } | null;
  urls: { original: string; download: string; thumbnail: string; preview: string };
}

export interface MediaPatch {
  favourite?: boolean;
  taken_at?: { local: string; offset_minutes?: number | null } | null;
  gps?: { lat: number; lon: number } | null;
}

export interface BulkPatch extends MediaPatch {
  ids: number[];
  add_to_album?: number;
}

export interface Album {
  id: number;
  name: string;
  description: string | null;
  count: number;
  cover: MediaSummary | null;
  created_at: string;
  updated_at: string;
}

export interface Person {
  id: number;
  name: string | null;
  hidden: boolean;
  face_count: number;
  media_count: number;
  cover_face_id: number | null;
  chip_url: string | null;
}

export interface PersonFace {
  id: number;
  media_id: number;
  frame_ms: number | null;
  box: Box;
  chip_url: string;
}

export interface SimilarFace {
  face_id: number;
  media_id: number;
  person_id: number | null;
  person_name: string | null;
  distance: number;
  chip_url: string;
}

export interface DuplicateItem extends MediaSummary {
  aliases: Alias[];
}

export interface NearGroup {
  members: MediaSummary[];
  edges: { a: number; b: number; distance: number }[];
}

export interface Stats {
  totals: { items: number; photos: number; videos: number; bytes: number };
  years: { year: number; count: number }[];
  months: { month: string; count: number }[];
  cameras: { make: string | null; model: string | null; count: number }[];
  labels: { value: string; count: number }[];
  places: { country_code: string | null; country: string | null; count: number }[];
  people: { id: number; name: string | null; count: number }[];
  progress: Record<string, { pending: number; queued: number; running: number; done: number; failed: number }>;
}

export interface OnThisDay {
  years: { year: number; items: MediaSummary[] }[];
}

export type UploadStatus = "new" | "duplicate" | "rejected" | "error";

export interface UploadOutcome {
  name: string;
  status: UploadStatus;
  media_id: number | null;
  duplicate_of: number | null;
  reason: string | null;
  detail: string | null;
}

export interface Job {
  id: number;
  media_id: number;
  analyzer: string;
  state: string;
  attempts: number;
  error: string | null;
  updated_at: string;
  name: string;
}

export interface AdminUser {
  id: number;
  name: string;
  role: Role;
  disabled: boolean;
  created_at?: string;
  last_login_at?: string | null;
}
