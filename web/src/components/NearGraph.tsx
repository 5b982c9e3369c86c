// vis-network (its standalone build: vis-data inside) draws the near-duplicate graph; double-click or
// Enter on a selected node opens the item.
import { useEffect, useRef } from "react";
import { useNavigate } from "react-router";
import { DataSet, Network } from "vis-network/standalone";
import type { NearGroup } from "../api/types";
import { toGraph } from "../lib/graph";

export default function NearGraph({ groups, threshold }: { groups: NearGroup[]; threshold: number }) {
  const el = useRef<HTMLDivElement | null>(null);
  const navigate = useNavigate();
  useEffect(() => {
    if (!el.current) return;
    const g = toGraph(groups, threshold);
    const network = new Network(el.current, {
      nodes: new DataSet(g.nodes.map((n) => ({ ...n, shape: "image", size: 28, title: n.label }))),
      edges: new DataSet(g.edges),
    }, {
      nodes: { font: { size: 11 }, shapeProperties: { useBorderWithImage: true } },
      edges: { color: { color: "#64748b", highlight: "#2563eb" }, smooth: false },
      physics: { stabilization: { iterations: 150 }, barnesHut: { springLength: 120 } },
      interaction: { hover: true, keyboard: { enabled: true, bindToWindow: false }, navigationButtons: true },
    });
    network.on("doubleClick", (e: { nodes: number[] }) => {
      const id = e.nodes[0];
      if (id !== undefined) navigate(`/item/${id}`);
    });
    return () => network.destroy();
  }, [groups, threshold, navigate]);
  return <div ref={el} className="graph" role="img" aria-label={`Graph of ${groups.length} near-duplicate groups; double-click an item to open it`} tabIndex={0} />;
}
