// An in-memory stand-in for the admin console's API (the routes its pages call), for component tests.
import type { AuditEvent, ModerationItem, SystemStatus, UsageStats } from "./adminApi";

type Result = { data?: unknown; error?: unknown; response: Response };
interface Options {
  params?: { path?: Record<string, string>; query?: Record<string, unknown> };
  body?: unknown;
}

const uuid = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, "0")}`;

export function stats(key: string, fields: Partial<UsageStats> = {}): UsageStats {
  return {
    key,
    label: null,
    requests: 1,
    input_tokens: 10,
    output_tokens: 20,
    cached_tokens: 0,
    reasoning_tokens: 0,
    cost_micros: 1_000,
    cost_usd: "0.001",
    errors: 0,
    fallbacks: 0,
    latency_p50_ms: 100,
    latency_p95_ms: 200,
    ttft_p50_ms: 30,
    ttft_p95_ms: 60,
    ...fields,
  };
}

export function systemStatus(fields: Partial<SystemStatus> = {}): SystemStatus {
  return {
    version: "1.2.3",
    checked_at: "2026-12-06T10:00:00Z",
    instances_shared: true,
    instances: [
      {
        instance_id: "a",
        role: "api",
        host: "web-1",
        pid: 101,
        version: "1.2.3",
        started_at: "2026-12-06T07:00:00Z",
        last_heartbeat_at: "2026-12-06T10:00:00Z",
        uptime_seconds: 3 * 3600 + 5 * 60,
        current: true,
        open_websockets: 4,
        streaming_replies: 1,
        recent_requests: 150,
        recent_server_errors: 3,
        breakers: { "llm:openai": "open" },
      },
      {
        instance_id: "b",
        role: "worker",
        host: "worker-1",
        pid: 202,
        version: "1.2.3",
        started_at: "2026-12-06T09:59:00Z",
        last_heartbeat_at: "2026-12-06T10:00:00Z",
        uptime_seconds: 42,
        current: false,
        open_websockets: 0,
        streaming_replies: 0,
        recent_requests: 50,
        recent_server_errors: 1,
        breakers: {},
      },
    ],
    database: { status: "up", latency_ms: 1.25, error: null },
    redis: { status: "down", latency_ms: null, error: "connection refused" },
    jobs: { queue_depth: { default: 7 }, failed_jobs: 2, outbox_backlog: 5, outbox_oldest_age_seconds: 90 },
    breakers: { "llm:openai": "open", redis: "closed" },
    open_websockets: 4,
    streaming_replies: 1,
    recent_requests: 200,
    recent_server_errors: 4,
    recent_error_rate: 0.02,
    ...fields,
  };
}

export class FakeAdminApi {
  calls: Array<{ method: string; path: string; options?: Options }> = [];
  usageItems: Record<string, UsageStats[]> = { day: [stats("2026-12-01", { requests: 3 }), stats("2026-12-02", { requests: 5 })] };
  userRows = [
    { day: "2026-12-01", tier: "free", signups: 2, active_users: 3 },
    { day: "2026-12-01", tier: "pro", signups: 1, active_users: 1 },
    { day: "2026-12-02", tier: "free", signups: 4, active_users: 2 },
  ];
  contentRows = [
    { day: "2026-12-01", status: "published", articles: 2 },
    { day: "2026-12-02", status: "draft", articles: 1 },
  ];
  topTags = [{ tag: "python", articles: 3 }];
  spenders = [
    { user_id: uuid(1), email: "big@example.com", display_name: "Big", tier: "pro", requests: 10, cost_micros: 5_000_000 },
    { user_id: uuid(2), email: "small@example.com", display_name: "Small", tier: "free", requests: 40, cost_micros: 20_000 },
  ];
  moderation: ModerationItem[] = [];
  audit: AuditEvent[] = [];
  system: SystemStatus = systemStatus();
  /** The next call to this path answers this error instead. */
  failNext: Record<string, { status: number; error: unknown }> = {};

  addModeration(count: number, fields: Partial<ModerationItem> = {}): ModerationItem[] {
    const added: ModerationItem[] = [];
    for (let i = 0; i < count; i++) {
      const n = this.moderation.length + added.length + 1;
      added.push({
        id: uuid(n),
        kind: "reply",
        target_id: uuid(1000 + n),
        user_id: uuid(2000 + n),
        reasons: ["user_report"],
        excerpt: `Flagged text ${n}`,
        status: "open",
        created_at: new Date(Date.UTC(2026, 11, 1, 0, n)).toISOString(),
        report_count: 1,
        resolution: null,
        resolved_at: null,
        resolved_by: null,
        resolution_note: null,
        ...fields,
      });
    }
    this.moderation.push(...added);
    return added;
  }

  addAudit(count: number, fields: Partial<AuditEvent> = {}): AuditEvent[] {
    const added: AuditEvent[] = [];
    for (let i = 0; i < count; i++) {
      const n = this.audit.length + added.length + 1;
      added.push({
        id: uuid(n),
        at: new Date(Date.UTC(2026, 11, 1, 0, n)).toISOString(),
        actor_id: uuid(9),
        actor_ip: "10.0.0.1",
        action: "user.tier_changed",
        target_type: "user",
        target_id: uuid(100 + n),
        data: { from: "free", to: "pro", via: "access_token", n },
        ...fields,
      });
    }
    this.audit.push(...added);
    return added;
  }

  private ok(data?: unknown, status = 200): Result {
    return { data, response: new Response(null, { status }) };
  }

  private failed(path: string): Result | null {
    const failure = this.failNext[path];
    if (!failure) return null;
    delete this.failNext[path];
    return { error: failure.error, response: new Response(null, { status: failure.status }) };
  }

  private page<T extends { id: string }>(items: T[], query: Record<string, unknown>) {
    const limit = Number(query.limit ?? 50);
    const newestFirst = [...items].sort((a, b) => (a.id < b.id ? 1 : -1));
    const after = newestFirst.filter((item) => !query.before || item.id < String(query.before));
    const page = after.slice(0, limit);
    return { items: page, limit, next_before: after.length > limit ? page[page.length - 1].id : null };
  }

  GET = async (path: string, options?: Options): Promise<Result> => {
    this.calls.push({ method: "GET", path, options });
    const failure = this.failed(path);
    if (failure) return failure;
    const query = options?.params?.query ?? {};
    const range = { from: query.from ?? "2026-11-07", to: query.to ?? "2026-12-06" };
    switch (path) {
      case "/api/v1/admin/analytics/usage": {
        const items = this.usageItems[String(query.group_by)] ?? [];
        const totals = stats("all", {
          requests: items.reduce((n, i) => n + i.requests, 0),
          cost_micros: items.reduce((n, i) => n + i.cost_micros, 0),
        });
        return this.ok({ ...range, group_by: query.group_by, items, totals });
      }
      case "/api/v1/admin/analytics/users":
        return this.ok({ ...range, items: this.userRows });
      case "/api/v1/admin/analytics/content":
        return this.ok({ ...range, items: this.contentRows, top_tags: this.topTags });
      case "/api/v1/admin/analytics/top": {
        const items = [...this.spenders].sort((a, b) =>
          query.by === "requests" ? b.requests - a.requests : b.cost_micros - a.cost_micros,
        );
        return this.ok({ by: query.by, period: query.period, ...range, items });
      }
      case "/api/v1/admin/moderation": {
        const kinds = query.kind === "message" ? ["message", "reply"] : query.kind ? [query.kind] : null;
        const matching = this.moderation.filter((m) => m.status === (query.status ?? "open") && (!kinds || kinds.includes(m.kind)));
        return this.ok(this.page(matching, query));
      }
      case "/api/v1/admin/audit": {
        const matching = this.audit.filter(
          (e) =>
            (!query.actor || e.actor_id === query.actor) &&
            (!query.action || e.action === query.action) &&
            (!query.target || e.target_id === query.target),
        );
        return this.ok(this.page(matching, query));
      }
      case "/api/v1/admin/system":
        return this.ok(structuredClone(this.system));
    }
    throw new Error(`unexpected GET ${path}`);
  };

  POST = async (path: string, options?: Options): Promise<Result> => {
    this.calls.push({ method: "POST", path, options });
    const failure = this.failed(path);
    if (failure) return failure;
    if (path !== "/api/v1/admin/moderation/{item_id}/resolve") throw new Error(`unexpected POST ${path}`);
    const item = this.moderation.find((m) => m.id === options?.params?.path?.item_id);
    if (!item) return { error: { detail: "There is no moderation item with this id" }, response: new Response(null, { status: 404 }) };
    const body = options?.body as { action: ModerationItem["resolution"]; note: string | null };
    Object.assign(item, {
      status: "resolved",
      resolution: body.action,
      resolution_note: body.note,
      resolved_at: "2026-12-06T10:00:00Z",
    });
    return this.ok(item);
  };
}
