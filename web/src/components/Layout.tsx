import { useState } from "react";
import { NavLink, Outlet, useLocation, useNavigate } from "react-router";
import { allows, useAuth } from "../auth";

const LINKS: { to: string; label: string; role?: "editor" | "admin" }[] = [
  { to: "/", label: "Gallery" },
  { to: "/map", label: "Map" },
  { to: "/timeline", label: "Timeline" },
  { to: "/people", label: "People" },
  { to: "/albums", label: "Albums" },
  { to: "/duplicates", label: "Duplicates" },
  { to: "/stats", label: "Stats" },
  { to: "/upload", label: "Upload", role: "editor" },
  { to: "/admin", label: "Admin", role: "admin" },
];

export function Layout() {
  const { user, logout } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [open, setOpen] = useState(false);
  // The search travels between the views that show a search (gallery, map, timeline).
  const keep = ["/", "/map", "/timeline"].includes(location.pathname) ? location.search : "";
  return (
    <div className="shell">
      <a className="skip" href="#main">Skip to content</a>
      <header className="topbar">
        <NavLink to="/" className="brand" aria-label="pava, gallery">pava</NavLink>
        <button type="button" className="menu-toggle" aria-expanded={open} aria-controls="main-nav"
          onClick={() => setOpen((o) => !o)}>Menu</button>
        <nav id="main-nav" aria-label="Main" className={open ? "open" : ""}>
          <ul>
            {LINKS.filter((l) => !l.role || allows(user, l.role)).map((l) => (
              <li key={l.to}>
                <NavLink to={["/", "/map", "/timeline"].includes(l.to) ? l.to + keep : l.to} end={l.to === "/"}
                  onClick={() => setOpen(false)}>{l.label}</NavLink>
              </li>
            ))}
          </ul>
        </nav>
        {user && (
          <div className="user">
            <span title={`role: ${user.role}`}>{user.name}</span>
            <button type="button" onClick={() => void logout().then(() => navigate("/login"))}>Log out</button>
          </div>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
