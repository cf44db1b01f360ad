// The typed API client (generated types in schema.d.ts) and the in-memory access token.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type User = Schemas["UserResponse"];
export type Conversation = Schemas["ConversationResponse"];
export type Message = Schemas["MessageResponse"];
export type Model = Schemas["ModelResponse"];
export type Article = Schemas["ArticleResponse"];
export type Notification = Schemas["NotificationResponse"];

/** The access token lives here, in memory only: never in localStorage, never in a cookie. */
let accessToken: string | null = null;
let onUnauthorized: (() => void) | null = null;

export function setAccessToken(token: string | null): void {
  accessToken = token;
}

export function getAccessToken(): string | null {
  return accessToken;
}

export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

const auth: Middleware = {
  onRequest({ request }) {
    if (accessToken && !request.headers.has("Authorization")) {
      request.headers.set("Authorization", `Bearer ${accessToken}`);
    }
    return request;
  },
  onResponse({ response, request }) {
    if (response.status === 401 && request.headers.has("Authorization") && onUnauthorized) onUnauthorized();
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
api.use(auth);

/** A problem+json body's detail (or a short fallback) for the person in front of the page. */
export function problemText(error: unknown, fallback = "Something went wrong"): string {
  if (error && typeof error === "object") {
    const e = error as { detail?: unknown; error_description?: unknown; title?: unknown };
    if (typeof e.detail === "string") return e.detail;
    if (typeof e.error_description === "string") return e.error_description;
    if (typeof e.title === "string") return e.title;
  }
  return fallback;
}

/** Throws the problem detail when a call failed, returns its data otherwise. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) throw new Error(problemText(result.error));
  return result.data as T;
}

export function readCookie(name: string): string | null {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

export function usd(micros: number): string {
  const dollars = micros / 1_000_000;
  return dollars < 0.01 && dollars > 0 ? `$${dollars.toFixed(6)}` : `$${dollars.toFixed(2)}`;
}
