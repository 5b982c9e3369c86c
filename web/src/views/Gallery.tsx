import { MediaBrowser } from "../components/MediaBrowser";
import { useFilters } from "../lib/hooks";

export function GalleryPage() {
  const [filters, setFilters] = useFilters();
  return <MediaBrowser filters={filters} onFilters={setFilters} />;
}
