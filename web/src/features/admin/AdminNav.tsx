// The console's own navigation: the pages this user's permissions open, nothing else.
import { NavLink } from "react-router";
import { useSession } from "../../app/session";
import { ADMIN_PAGES, can } from "../../app/permissions";

export function AdminNav() {
  const { user } = useSession();
  const pages = ADMIN_PAGES.filter((page) => can(user, page.permission));
  if (pages.length < 2) return null;
  return (
    <nav aria-label="Admin" className="tabs admin-nav">
      {pages.map((page) => (
        <NavLink key={page.to} to={page.to}>
          {page.label}
        </NavLink>
      ))}
    </nav>
  );
}
