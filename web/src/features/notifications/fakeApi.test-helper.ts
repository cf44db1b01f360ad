// An in-memory stand-in for the notifications API (the routes the pages call), for component tests.
import type { Notification } from "../../api/client";

type Result = { data?: unknown; error?: unknown; response: Response };
interface Options {
  params?: { path?: Record<string, string>; query?: Record<string, unknown> };
  body?: unknown;
}

export class FakeNotificationsApi {
  items: Notification[] = [];
  preferences: Record<string, { in_app: boolean; email: boolean }> = {
    security: { in_app: true, email: true },
    budget: { in_app: true, email: true },
    content: { in_app: true, email: false },
    announcements: { in_app: true, email: true },
    system: { in_app: true, email: false },
  };
  calls: Array<{ method: string; path: string; options?: Options }> = [];

  add(count: number, fields: Partial<Notification> = {}): Notification[] {
    const added: Notification[] = [];
    for (let i = 0; i < count; i++) {
      const n = this.items.length + added.length + 1;
      added.push({
        id: `00000000-0000-7000-8000-${String(n).padStart(12, "0")}`,
        category: "announcements",
        type: "announcement",
        title: `Notice ${n}`,
        body: `Body ${n}`,
        data: {},
        read_at: null,
        created_at: new Date(Date.UTC(2026, 11, 1, 0, n)).toISOString(),
        ...fields,
      });
    }
    this.items.push(...added);
    return added;
  }

  get unread(): number {
    return this.items.filter((n) => n.read_at === null).length;
  }

  private ok(data?: unknown, status = 200): Result {
    return { data, response: new Response(null, { status }) };
  }

  GET = async (path: string, options?: Options): Promise<Result> => {
    this.calls.push({ method: "GET", path, options });
    if (path === "/api/v1/notifications/preferences") return this.ok({ categories: structuredClone(this.preferences) });
    if (path !== "/api/v1/notifications") throw new Error(`unexpected GET ${path}`);
    const query = options?.params?.query ?? {};
    const limit = Number(query.limit ?? 20);
    const newestFirst = [...this.items].sort((a, b) => (a.id < b.id ? 1 : -1));
    const matching = newestFirst.filter(
      (n) => (!query.unread || n.read_at === null) && (!query.before || n.id < String(query.before)),
    );
    const page = matching.slice(0, limit);
    const next = matching.length > limit ? page[page.length - 1].id : null;
    return this.ok({ items: page, unread_count: this.unread, next_cursor: next });
  };

  POST = async (path: string, options?: Options): Promise<Result> => {
    this.calls.push({ method: "POST", path, options });
    const now = new Date().toISOString();
    if (path === "/api/v1/notifications/read-all") {
      const marked = this.unread;
      for (const n of this.items) n.read_at ??= now;
      return this.ok({ marked_read: marked });
    }
    const item = this.items.find((n) => n.id === options?.params?.path?.notification_id);
    if (!item) return { error: { detail: "Not found" }, response: new Response(null, { status: 404 }) };
    item.read_at ??= now;
    return this.ok(undefined, 204);
  };

  DELETE = async (path: string, options?: Options): Promise<Result> => {
    this.calls.push({ method: "DELETE", path, options });
    const before = this.items.length;
    this.items = this.items.filter((n) => n.id !== options?.params?.path?.notification_id);
    return this.items.length < before ? this.ok(undefined, 204) : { error: {}, response: new Response(null, { status: 404 }) };
  };

  PUT = async (path: string, options?: Options): Promise<Result> => {
    this.calls.push({ method: "PUT", path, options });
    const body = options?.body as { categories: Record<string, Record<string, boolean>> };
    for (const [category, channels] of Object.entries(body.categories)) {
      if (category === "security" && channels.email === false) {
        return { error: { detail: "Security e-mail cannot be turned off" }, response: new Response(null, { status: 422 }) };
      }
      Object.assign(this.preferences[category], channels);
    }
    return this.ok({ categories: structuredClone(this.preferences) });
  };
}
