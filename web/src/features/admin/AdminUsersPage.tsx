// Admin: users (search, role, tier, budget, deactivate). Loaded as a chunk of its own, for staff only.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap, usd, type Schemas, type User } from "../../api/client";
import { AdminNav } from "./AdminNav";

type Change = Schemas["AdminUpdateUserRequest"];

function Budget({ user }: { user: User }) {
  const queryClient = useQueryClient();
  const budget = useQuery({
    queryKey: ["admin-budget", user.id],
    queryFn: async () => unwrap(await api.GET("/api/v1/admin/users/{user_id}/budget", { params: { path: { user_id: user.id } } })),
  });
  const [value, setValue] = useState("");
  const save = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.PUT("/api/v1/admin/users/{user_id}/budget", {
          params: { path: { user_id: user.id } },
          body: { monthly_usd: value === "" ? null : value },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["admin-budget", user.id] }),
  });
  const b = budget.data?.budget;
  return (
    <form className="row" onSubmit={(e) => { e.preventDefault(); save.mutate(); }}>
      <span className="meta">{b ? `${usd(b.spent_micros)} / $${b.monthly_budget_usd}${b.custom ? " (custom)" : ""}` : "…"}</span>
      <label>
        <span className="visually-hidden">Monthly budget in USD for {user.email}</span>
        <input className="narrow" inputMode="decimal" placeholder="USD" value={value} onChange={(e) => setValue(e.target.value)} />
      </label>
      <button className="small" type="submit">Set</button>
      {save.error && <span role="alert" className="error">{save.error.message}</span>}
    </form>
  );
}

export default function AdminUsersPage() {
  const queryClient = useQueryClient();
  const [q, setQ] = useState("");
  const users = useQuery({
    queryKey: ["admin-users", q],
    queryFn: async () => unwrap(await api.GET("/api/v1/admin/users", { params: { query: { q: q || undefined, limit: 50 } } })),
  });
  const update = useMutation({
    mutationFn: async ({ id, change }: { id: string; change: Change }) =>
      unwrap(await api.PATCH("/api/v1/admin/users/{user_id}", { params: { path: { user_id: id } }, body: change })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["admin-users"] }),
  });
  return (
    <div className="page">
      <AdminNav />
      <h1>Users</h1>
      <label>
        Search users
        <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="Email or name" />
      </label>
      {update.error && <p role="alert" className="error">{update.error.message}</p>}
      <div className="table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col">Tier</th>
              <th scope="col">Budget</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {users.data?.items.map((user) => (
              <tr key={user.id} data-email={user.email}>
                <td>
                  {user.display_name}
                  <br />
                  <span className="meta">{user.email}</span>
                </td>
                <td>
                  <select aria-label={`Role of ${user.email}`} value={user.role} onChange={(e) => update.mutate({ id: user.id, change: { role: e.target.value as Change["role"] } })}>
                    <option value="viewer">viewer</option>
                    <option value="creator">creator</option>
                    <option value="moderator">moderator</option>
                    <option value="admin">admin</option>
                  </select>
                </td>
                <td>
                  <select aria-label={`Tier of ${user.email}`} value={user.tier} onChange={(e) => update.mutate({ id: user.id, change: { tier: e.target.value as Change["tier"] } })}>
                    <option value="free">free</option>
                    <option value="pro">pro</option>
                  </select>
                </td>
                <td>
                  <Budget user={user} />
                </td>
                <td>
                  <button className={user.is_active ? "danger small" : "small"} onClick={() => update.mutate({ id: user.id, change: { is_active: !user.is_active } })}>
                    {user.is_active ? `Deactivate` : `Reactivate`}
                    <span className="visually-hidden"> {user.email}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {users.data && <p className="muted">{users.data.total} users</p>}
    </div>
  );
}
