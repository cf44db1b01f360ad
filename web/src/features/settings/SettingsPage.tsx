import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, problemText, unwrap } from "../../api/client";
import { useSession } from "../../app/session";
import { ConfirmDialog } from "../../ui/ConfirmDialog";
import { NotificationPreferences } from "../notifications/Preferences";
import { AvatarEditor } from "./AvatarEditor";

/** The API's limit on a bio (characters, once trimmed). */
const MAX_BIO = 500;

function Profile() {
  const { user, reloadUser } = useSession();
  const [done, setDone] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: async ({ name, bio }: { name: string; bio: string }) =>
      unwrap(await api.PATCH("/api/v1/users/me", { body: { display_name: name, bio } })),
    onSuccess: async () => {
      setDone("Profile saved");
      await reloadUser();
    },
  });
  return (
    <section aria-labelledby="profile-title" className="card">
      <h2 id="profile-title">Profile</h2>
      <p className="meta">
        {user?.email} · {user?.role} · {user?.tier} tier
      </p>
      <AvatarEditor />
      <form
        onSubmit={(e: FormEvent<HTMLFormElement>) => {
          e.preventDefault();
          const form = new FormData(e.currentTarget);
          setDone(null);
          save.mutate({ name: String(form.get("name")), bio: String(form.get("bio") ?? "") });
        }}
      >
        <label>
          Display name
          <input name="name" defaultValue={user?.display_name} required maxLength={100} />
        </label>
        <label>
          Bio
          <textarea name="bio" rows={3} defaultValue={user?.bio ?? ""} maxLength={MAX_BIO} aria-describedby="bio-hint" />
        </label>
        <p id="bio-hint" className="meta">
          A few lines about you, at most {MAX_BIO} characters.
        </p>
        <button type="submit">Save</button>
        {done && <p role="status">{done}</p>}
        {save.error && <p role="alert" className="error">{save.error.message}</p>}
      </form>
    </section>
  );
}

function Password() {
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const { error } = await api.POST("/api/v1/users/me/password", {
      body: { current_password: String(form.get("current")), new_password: String(form.get("next")) },
    });
    setMessage(error ? { ok: false, text: problemText(error) } : { ok: true, text: "Password changed" });
    if (!error) event.currentTarget.reset();
  }
  return (
    <section aria-labelledby="password-title" className="card">
      <h2 id="password-title">Password</h2>
      <form onSubmit={submit}>
        <label>
          Current password
          <input name="current" type="password" required autoComplete="current-password" />
        </label>
        <label>
          New password
          <input name="next" type="password" required minLength={10} autoComplete="new-password" />
        </label>
        <button type="submit">Change password</button>
        {message && <p role={message.ok ? "status" : "alert"} className={message.ok ? undefined : "error"}>{message.text}</p>}
      </form>
    </section>
  );
}

function ApiKeys() {
  const queryClient = useQueryClient();
  const keys = useQuery({ queryKey: ["api-keys"], queryFn: async () => unwrap(await api.GET("/api/v1/api-keys")) });
  const [created, setCreated] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const create = useMutation({
    mutationFn: async (name: string) => unwrap(await api.POST("/api/v1/api-keys", { body: { name } })),
    onSuccess: async (key) => {
      setCreated(key.key);
      setCopied(false);
      await queryClient.invalidateQueries({ queryKey: ["api-keys"] });
    },
  });
  return (
    <section aria-labelledby="keys-title" className="card">
      <h2 id="keys-title">API keys</h2>
      <form
        className="row"
        onSubmit={(e: FormEvent<HTMLFormElement>) => {
          e.preventDefault();
          create.mutate(String(new FormData(e.currentTarget).get("name")));
          e.currentTarget.reset();
        }}
      >
        <label>
          Key name
          <input name="name" required maxLength={100} />
        </label>
        <button type="submit">Create key</button>
      </form>
      {create.error && <p role="alert" className="error">{create.error.message}</p>}
      {created && (
        <div className="new-key" role="status">
          <p>Your new key. It is shown this once: copy it now.</p>
          <code data-testid="new-api-key">{created}</code>
          <button
            onClick={async () => {
              await navigator.clipboard?.writeText(created);
              setCopied(true);
            }}
          >
            {copied ? "Copied" : "Copy"}
          </button>
        </div>
      )}
      <table>
        <caption className="visually-hidden">Your API keys</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Key</th>
            <th scope="col">Last used</th>
            <th scope="col"><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {keys.data?.items.map((key) => (
            <tr key={key.id}>
              <td>{key.name}</td>
              <td><code>{key.prefix}…</code></td>
              <td>{key.last_used_at ? new Date(key.last_used_at).toLocaleString() : "never"}</td>
              <td>
                <ConfirmDialog
                  trigger={<button className="danger small">Revoke</button>}
                  title={`Revoke “${key.name}”?`}
                  description="Programs using this key stop working at once."
                  confirm="Revoke"
                  onConfirm={async () => {
                    await api.DELETE("/api/v1/api-keys/{key_id}", { params: { path: { key_id: key.id } } });
                    await queryClient.invalidateQueries({ queryKey: ["api-keys"] });
                  }}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export default function SettingsPage() {
  return (
    <div className="page">
      <h1>Settings</h1>
      <Profile />
      <Password />
      <ApiKeys />
      <NotificationPreferences />
    </div>
  );
}
