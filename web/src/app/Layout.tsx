import { useState, type ReactNode } from "react";
import { NavLink, useLocation, useNavigate } from "react-router";
import { Bell } from "../features/notifications/Bell";
import { Avatar } from "../ui/Avatar";
import { firstAdminPage } from "./permissions";
import { useSession } from "./session";

export function Layout({ children }: { children: ReactNode }) {
  const { user, signOut } = useSession();
  const navigate = useNavigate();
  const { pathname } = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const admin = firstAdminPage(user);
  const links = [
    ["/chat", "Chat"],
    ["/knowledge", "Knowledge"],
    ["/usage", "Usage"],
    ["/settings", "Settings"],
    ...(admin ? [[admin, "Admin"]] : []),
  ];
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand" aria-label="Parley">
          Parley
        </span>
        <button
          className="ghost menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => setMenuOpen((open) => !open)}
        >
          Menu
        </button>
        <nav id="main-nav" aria-label="Main" className={menuOpen ? "open" : undefined}>
          {links.map(([to, label]) => (
            <NavLink
              key={to}
              to={to}
              onClick={() => setMenuOpen(false)}
              // "Admin" stays marked on every console page, not only the one it links to.
              className={({ isActive }) => (isActive || (label === "Admin" && pathname.startsWith("/admin/")) ? "active" : undefined)}
            >
              {label}
            </NavLink>
          ))}
        </nav>
        <Bell />
        <span className="who" title={user?.email}>
          {user && <Avatar user={user} size={64} />}
          <span className="who-name">{user?.display_name}</span>
        </span>
        <button
          className="ghost"
          onClick={async () => {
            await signOut();
            navigate("/signin");
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main">{children}</main>
    </div>
  );
}
