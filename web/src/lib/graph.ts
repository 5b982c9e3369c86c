// Near-duplicate groups as a graph: items are nodes, matches are edges, closer matches thicker.
import type { NearGroup } from "../api/types";

export interface GraphNode {
  id: number;
  label: string;
  group: string;
  image: string;
}

export interface GraphEdge {
  id: string;
  from: number;
  to: number;
  width: number;
  title: string;
  label?: string;
}

/** Edge width: distance 0 (identical hashes) draws 8 px, the threshold 1 px. */
export function edgeWidth(distance: number, threshold: number): number {
  const t = threshold > 0 ? Math.min(1, Math.max(0, distance / threshold)) : 0;
  return Math.round((8 - 7 * t) * 10) / 10;
}

export function toGraph(groups: NearGroup[], threshold: number): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes = new Map<number, GraphNode>();
  const edges: GraphEdge[] = [];
  groups.forEach((g, gi) => {
    for (const m of g.members) {
      if (!nodes.has(m.id)) nodes.set(m.id, { id: m.id, label: m.name, group: `g${gi}`, image: m.thumbnail_url });
    }
    for (const e of g.edges) {
      const [a, b] = e.a < e.b ? [e.a, e.b] : [e.b, e.a];
      edges.push({ id: `${a}-${b}`, from: a, to: b, width: edgeWidth(e.distance, threshold), title: `distance ${e.distance}` });
    }
  });
  const unique = new Map(edges.map((e) => [e.id, e]));
  return { nodes: [...nodes.values()], edges: [...unique.values()] };
}
