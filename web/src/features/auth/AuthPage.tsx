import { useState, type FormEvent } from "react";
import { Link, Navigate, useLocation, useNavigate } from "react-router";
import { api, problemText } from "../../api/client";
import { useSession } from "../../app/session";

export function AuthPage({ mode }: { mode: "signin" | "register" }) {
  const { status, signIn } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const from = (location.state as { from?: string } | null)?.from ?? "/chat";
  if (status === "signed-in") return <Navigate to={from} replace />;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get("email"));
    const password = String(form.get("password"));
    setBusy(true);
    setError(null);
    try {
      if (mode === "register") {
        const { error: refused } = await api.POST("/api/v1/auth/register", {
          body: { email, password, display_name: String(form.get("display_name")) },
        });
        if (refused) throw new Error(problemText(refused, "Could not register"));
      }
      await signIn(email, password);
      navigate(from, { replace: true });
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  }

  const title = mode === "signin" ? "Sign in" : "Create an account";
  return (
    <main id="main" className="auth">
      <form onSubmit={submit} className="card" aria-labelledby="auth-title">
        <h1 id="auth-title">{title}</h1>
        {mode === "register" && (
          <label>
            Name
            <input name="display_name" required maxLength={100} autoComplete="name" />
          </label>
        )}
        <label>
          Email
          <input name="email" type="email" required autoComplete="email" />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            required
            minLength={mode === "register" ? 10 : 1}
            autoComplete={mode === "register" ? "new-password" : "current-password"}
          />
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {title}
        </button>
        {mode === "signin" ? (
          <p>
            New here? <Link to="/register">Create an account</Link>
          </p>
        ) : (
          <p>
            Have an account? <Link to="/signin">Sign in</Link>
          </p>
        )}
      </form>
    </main>
  );
}
