// The browser session: access token in memory, refresh token in an HttpOnly cookie (see docs/WEB.md).
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { api, problemText, readCookie, setAccessToken, setUnauthorizedHandler, type User } from "../api/client";

type Status = "loading" | "signed-in" | "signed-out";

interface Session {
  status: Status;
  user: User | null;
  signIn(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  reloadUser(): Promise<void>;
}

const SessionContext = createContext<Session | null>(null);
const CSRF_COOKIE = "parley_csrf";

export function csrfHeaders(): Record<string, string> {
  return { "X-CSRF-Token": readCookie(CSRF_COOKIE) ?? "" };
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<Status>("loading");
  const [user, setUser] = useState<User | null>(null);
  const timer = useRef<number | undefined>(undefined);

  const schedule = useCallback((expiresIn: number, renew: () => void) => {
    window.clearTimeout(timer.current);
    // Renew a little before the access token expires.
    timer.current = window.setTimeout(renew, Math.max(5, expiresIn - 60) * 1000);
  }, []);

  const loadUser = useCallback(async () => {
    const { data } = await api.GET("/api/v1/users/me");
    if (!data) throw new Error("Could not read your account");
    setUser(data);
    setStatus("signed-in");
  }, []);

  const refresh = useCallback(async (): Promise<boolean> => {
    if (!readCookie(CSRF_COOKIE)) return false;
    const { data } = await api.POST("/api/v1/auth/session/refresh", { headers: csrfHeaders() });
    if (!data) return false;
    setAccessToken(data.access_token);
    schedule(data.expires_in, () => void refresh());
    return true;
  }, [schedule]);

  const signedOut = useCallback(() => {
    setAccessToken(null);
    window.clearTimeout(timer.current);
    setUser(null);
    setStatus("signed-out");
  }, []);

  useEffect(() => {
    let cancelled = false;
    refresh()
      .then(async (ok) => {
        if (cancelled) return;
        if (ok) await loadUser();
        else signedOut();
      })
      .catch(() => !cancelled && signedOut());
    setUnauthorizedHandler(() => {
      void refresh().then((ok) => {
        if (!ok) signedOut();
      });
    });
    return () => {
      cancelled = true;
      setUnauthorizedHandler(null);
    };
  }, [refresh, loadUser, signedOut]);

  const value = useMemo<Session>(
    () => ({
      status,
      user,
      async signIn(email, password) {
        const { data, error } = await api.POST("/api/v1/auth/session", { body: { email, password } });
        if (!data) throw new Error(problemText(error, "Could not sign in"));
        setAccessToken(data.access_token);
        schedule(data.expires_in, () => void refresh());
        await loadUser();
      },
      async signOut() {
        await api.DELETE("/api/v1/auth/session", { headers: csrfHeaders() });
        signedOut();
      },
      reloadUser: loadUser,
    }),
    [status, user, schedule, refresh, loadUser, signedOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}
