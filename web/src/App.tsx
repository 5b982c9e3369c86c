import { lazy, Suspense, useEffect, type ReactNode } from "react";
import { Navigate, Route, Routes, useLocation, useNavigate } from "react-router";
import { api } from "./api/client";
import { allows, AuthProvider, useAuth } from "./auth";
import { Layout } from "./components/Layout";
import { AlbumPage, AlbumsPage } from "./views/Albums";
import { GalleryPage } from "./views/Gallery";
import { LoginPage } from "./views/Login";
import { PeoplePage, PersonPage } from "./views/People";
import { StatsPage } from "./views/Stats";
import { TimelinePage } from "./views/Timeline";
import { UploadPage } from "./views/Upload";
import type { Role } from "./api/types";

// The heavy parts (Leaflet, vis-network) load when their page is first opened.
const MapPage = lazy(() => import("./views/MapPage"));
const DetailPage = lazy(() => import("./views/Detail"));
const DuplicatesPage = lazy(() => import("./views/Duplicates"));
const AdminPage = lazy(() => import("./views/Admin"));

/** A 401 from any request (an expired session) sends the page to the login, and back after it. */
function UnauthorizedRedirect() {
  const navigate = useNavigate();
  const location = useLocation();
  const { forget } = useAuth();
  useEffect(() => {
    api.onUnauthorized = () => {
      forget();
      if (window.location.pathname !== "/login") {
        const next = window.location.pathname + window.location.search;
        navigate(`/login?next=${encodeURIComponent(next)}`, { replace: true });
      }
    };
  }, [navigate, forget, location]);
  return null;
}

function Guard({ role = "viewer", children }: { role?: Role; children: ReactNode }) {
  const { user, checking } = useAuth();
  const location = useLocation();
  if (checking) return <p className="status" role="status">Loading…</p>;
  if (!user) return <Navigate to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  if (!allows(user, role)) return <p className="error" role="alert">This page needs the {role} role.</p>;
  return <>{children}</>;
}

function page(node: ReactNode, role: Role = "viewer") {
  return (
    <Guard role={role}>
      <Suspense fallback={<p className="status" role="status">Loading…</p>}>{node}</Suspense>
    </Guard>
  );
}

export function App() {
  return (
    <AuthProvider>
      <UnauthorizedRedirect />
      <Routes>
        <Route path="/login" element={<LoginPage />} />
        <Route element={<Layout />}>
          <Route index element={page(<GalleryPage />)} />
          <Route path="map" element={page(<MapPage />)} />
          <Route path="item/:id" element={page(<DetailPage />)} />
          <Route path="timeline" element={page(<TimelinePage />)} />
          <Route path="people" element={page(<PeoplePage />)} />
          <Route path="people/:id" element={page(<PersonPage />)} />
          <Route path="albums" element={page(<AlbumsPage />)} />
          <Route path="albums/:id" element={page(<AlbumPage />)} />
          <Route path="duplicates" element={page(<DuplicatesPage />)} />
          <Route path="stats" element={page(<StatsPage />)} />
          <Route path="upload" element={page(<UploadPage />, "editor")} />
          <Route path="admin" element={page(<AdminPage />, "admin")} />
          <Route path="*" element={<p className="status">No such page. <a href="/">Back to the gallery</a></p>} />
        </Route>
      </Routes>
    </AuthProvider>
  );
}
