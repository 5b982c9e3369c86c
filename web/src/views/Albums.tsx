import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api, messageOf } from "../api/client";
import type { Album } from "../api/types";
import { allows, useAuth } from "../auth";
import { MediaBrowser } from "../components/MediaBrowser";
import { Thumb } from "../components/Thumb";
import { filtersFromParams, filtersToParams, type Filters } from "../lib/filters";
import { plural } from "../lib/format";
import { useApi } from "../lib/hooks";

export function AlbumsPage() {
  const { user } = useAuth();
  const albums = useApi<Album[]>("/api/albums");
  const navigate = useNavigate();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<string | null>(null);

  async function create(e: FormEvent) {
    e.preventDefault();
    try {
      const a = await api.post<Album>("/api/albums", { name: name.trim(), description: description.trim() || undefined });
      navigate(`/albums/${a.id}`);
    } catch (err) {
      setError(messageOf(err));
    }
  }

  return (
    <section className="page" aria-labelledby="albums-title">
      <h1 id="albums-title">Albums</h1>
      {allows(user, "editor") && (
        <form className="inline-form card" onSubmit={(e) => void create(e)}>
          <label>New album <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} /></label>
          <label>Description <input value={description} onChange={(e) => setDescription(e.target.value)} /></label>
          <button type="submit" className="primary">Create album</button>
        </form>
      )}
      {error && <p className="error" role="alert">{error}</p>}
      {albums.error && <p className="error" role="alert">{albums.error}</p>}
      {albums.data?.length === 0 && <p className="muted">No albums yet.</p>}
      <ul className="album-grid">
        {albums.data?.map((a) => (
          <li key={a.id}>
            <Link to={`/albums/${a.id}`} className="album-card">
              {a.cover ? <Thumb item={a.cover} /> : <span className="thumb empty" />}
              <span className="album-name">{a.name}</span>
              <span className="small muted">{plural(a.count, "item")}</span>
            </Link>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function AlbumPage() {
  const { id: idText } = useParams();
  const id = Number(idText);
  const { user } = useAuth();
  const editor = allows(user, "editor");
  const navigate = useNavigate();
  const album = useApi<Album>(`/api/albums/${id}`);
  const [params, setParams] = useSearchParams();
  const filters: Filters = { ...filtersFromParams(params), album: id };
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<string | null>(null);

  function onFilters(f: Filters, opts?: { replace?: boolean }) {
    const p = filtersToParams({ ...f, album: null });
    setParams(p, { replace: opts?.replace ?? false });
  }

  async function save(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    try {
      const a = await api.patch<Album>(`/api/albums/${id}`, { name: String(data.get("name")), description: String(data.get("description")) });
      if (a) album.setData(a);
      else album.reload();
      setEditing(false);
    } catch (err) {
      setError(messageOf(err));
    }
  }

  async function remove() {
    if (!window.confirm("Delete this album? The items stay in the library.")) return;
    try {
      await api.delete(`/api/albums/${id}`);
      navigate("/albums");
    } catch (err) {
      setError(messageOf(err));
    }
  }

  const a = album.data;
  const header = (
    <header className="album-head">
      <p><Link to="/albums">← Albums</Link></p>
      {album.error && <p className="error" role="alert">{album.error}</p>}
      {a && !editing && (
        <>
          <h1>{a.name}</h1>
          {a.description && <p>{a.description}</p>}
          {editor && <div className="row-buttons">
            <button type="button" onClick={() => setEditing(true)}>Rename</button>
            <button type="button" onClick={() => void remove()}>Delete album</button>
          </div>}
        </>
      )}
      {a && editing && (
        <form className="inline-form" onSubmit={(e) => void save(e)}>
          <label>Name <input name="name" defaultValue={a.name} required /></label>
          <label>Description <input name="description" defaultValue={a.description ?? ""} /></label>
          <button type="submit" className="primary">Save</button>
          <button type="button" onClick={() => setEditing(false)}>Cancel</button>
        </form>
      )}
      {error && <p className="error" role="alert">{error}</p>}
    </header>
  );

  return (
    <MediaBrowser filters={filters} onFilters={onFilters} hide={["album"]} header={header} label={`Items in ${a?.name ?? "the album"}`}
      bulkExtra={editor ? (ids, done) => (
        <button type="button" onClick={() => void api.post(`/api/albums/${id}/items/remove`, { media_ids: ids })
          .then(() => { album.reload(); done("Removed from the album"); })
          .catch((e: unknown) => setError(messageOf(e)))}>Remove from album</button>
      ) : undefined} />
  );
}
