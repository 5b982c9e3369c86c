// The API's shapes, taken from the generated schema.d.ts (scripts/openapi.mjs reads the app's own
// OpenAPI document), so a change in a route's model fails `npm run typecheck` where the page uses it.
// Only what the document cannot say (error bodies, the bbox tuple) is written by hand.
import type { components } from "./schema";

type S = components["schemas"];

export type Role = "viewer" | "editor" | "admin";

export type User = S["UserOut"];
export type LoginResult = S["LoginOut"];

/** Every error: `{error, message}`, 422 adds problems, 500 a request id (api/errors.py). */
export interface ApiErrorBody {
  error: string;
  message: string;
  problems?: { field: string; problem: string }[];
  request_id?: string;
}

export type PlaceShort = S["PlaceShort"];
export type MediaSummary = S["MediaSummary"];

/** A cursor page: `{items, next_cursor}` (+ total on /api/media with with_total=true). */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
  total?: number | null;
}

export type Facets = S["FacetsOut"];

export type Bbox = [west: number, south: number, east: number, north: number];
export type MapCluster = S["Cluster"];
export type MapAnswer = S["MapClusters"];

/** A box normalised (0..1) to the displayed image. */
export type Box = S["Box"];
export type ObjectHit = S["DetectedObject"];
export type FaceHit = S["Face"];
export type OcrLine = S["OcrLine"];
export type OcrWord = S["OcrWord"];
export type Segment = S["SpeechSegment"];
export type Comment = S["Comment"];
export type Alias = S["Alias"];
export type MediaDetail = S["MediaDetail"];
export type MediaPatch = S["MediaPatch"];
export type BulkPatch = S["BulkEdit"];

export type Album = S["Album"];
export type Person = S["PersonOut"];
export type PersonFace = S["FaceOut"];
export type SimilarFace = S["SimilarFaceOut"];
export type DuplicateItem = S["DuplicateItem"];
export type NearGroup = S["Group"];
export type Stats = S["StatsOut"];
export type OnThisDay = S["OnThisDay"];
export type UploadOutcome = S["FileOutcome"];
export type UploadStatus = UploadOutcome["status"];
export type Job = S["JobOut"];
export type AdminUser = S["AccountOut"];
export type AdminStatus = S["StatusOut"];
export type Rejection = S["RejectionOut"];
