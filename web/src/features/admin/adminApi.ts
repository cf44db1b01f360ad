// The console's API calls (analytics, moderation, audit, system status) and the shapes they answer.
import { api, unwrap } from "../../api/client";

export interface UsageStats {
  key: string;
  label?: string | null;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  cost_micros: number;
  errors: number;
  fallbacks: number;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  ttft_p50_ms: number | null;
  ttft_p95_ms: number | null;
}

export interface UsageAnalytics {
  from: string;
  to: string;
  group_by: string;
  items: UsageStats[];
  totals: UsageStats;
}

export interface UserActivityDay {
  day: string;
  tier: string;
  signups: number;
  active_users: number;
}

export interface UserAnalytics {
  from: string;
  to: string;
  items: UserActivityDay[];
}

export interface ContentAnalytics {
  from: string;
  to: string;
  items: Array<{ day: string; status: string; articles: number }>;
  top_tags: Array<{ tag: string; articles: number }>;
}

export interface Spender {
  user_id: string;
  email: string;
  display_name: string;
  tier: string;
  requests: number;
  cost_micros: number;
}

export interface TopSpenders {
  by: string;
  period: string;
  from: string;
  to: string;
  items: Spender[];
}

export interface ModerationItem {
  id: string;
  kind: string;
  target_id: string;
  user_id: string | null;
  reasons: string[];
  excerpt: string;
  status: "open" | "resolved";
  created_at: string;
  report_count: number;
  resolution: "dismiss" | "hide" | "delete" | null;
  resolved_at: string | null;
  resolved_by: string | null;
  resolution_note: string | null;
}

export interface ModerationPage {
  items: ModerationItem[];
  limit: number;
  next_before: string | null;
}

export interface AuditEvent {
  id: string;
  at: string;
  actor_id: string | null;
  actor_ip: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  data: Record<string, unknown>;
}

export interface AuditPage {
  items: AuditEvent[];
  limit: number;
  next_before: string | null;
}

export interface DependencyLatency {
  status: "up" | "down" | "not_configured" | string;
  latency_ms: number | null;
  error: string | null;
}

export interface InstanceStatus {
  instance_id: string;
  role: string;
  host: string;
  pid: number;
  version: string;
  started_at: string;
  last_heartbeat_at: string;
  uptime_seconds: number;
  current: boolean;
  open_websockets: number;
  streaming_replies: number;
  recent_requests: number;
  recent_server_errors: number;
  breakers: Record<string, string>;
}

export interface SystemStatus {
  version: string;
  checked_at: string;
  instances_shared: boolean;
  instances: InstanceStatus[];
  database: DependencyLatency;
  redis: DependencyLatency;
  jobs: {
    queue_depth: Record<string, number | null>;
    failed_jobs: number | null;
    outbox_backlog: number;
    outbox_oldest_age_seconds: number;
  };
  breakers: Record<string, string>;
  open_websockets: number;
  streaming_replies: number;
  recent_requests: number;
  recent_server_errors: number;
  recent_error_rate: number;
}

export type ResolveAction = "dismiss" | "hide" | "delete";

type Query = Record<string, string | number | undefined>;
type Call = (path: string, init?: { params?: { path?: Record<string, string>; query?: Query }; body?: unknown }) => Promise<{
  data?: unknown;
  error?: unknown;
  response: Response;
}>;
// These routes are newer than the generated schema.d.ts in this branch: the calls go through the same
// client (token, 401 handling) with the shapes above until `make web-client` types them.
const client = api as unknown as { GET: Call; POST: Call };

/** Query values without the empty ones (an empty filter is no filter). */
function present(query: Query): Query {
  return Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined && v !== ""));
}

export const adminApi = {
  async usage(query: { from?: string; to?: string; group_by: string; limit?: number }) {
    return unwrap(await client.GET("/api/v1/admin/analytics/usage", { params: { query: present(query) } })) as UsageAnalytics;
  },
  async users(query: { from?: string; to?: string }) {
    return unwrap(await client.GET("/api/v1/admin/analytics/users", { params: { query: present(query) } })) as UserAnalytics;
  },
  async content(query: { from?: string; to?: string }) {
    return unwrap(await client.GET("/api/v1/admin/analytics/content", { params: { query: present(query) } })) as ContentAnalytics;
  },
  async top(query: { by: string; period: string; limit?: number }) {
    return unwrap(await client.GET("/api/v1/admin/analytics/top", { params: { query: present(query) } })) as TopSpenders;
  },
  async moderation(query: { status: string; kind?: string; before?: string; limit?: number }) {
    return unwrap(await client.GET("/api/v1/admin/moderation", { params: { query: present(query) } })) as ModerationPage;
  },
  async resolve(id: string, action: ResolveAction, note: string) {
    return unwrap(
      await client.POST("/api/v1/admin/moderation/{item_id}/resolve", {
        params: { path: { item_id: id } },
        body: { action, note: note.trim() || null },
      }),
    ) as ModerationItem;
  },
  async audit(query: { actor?: string; action?: string; target?: string; before?: string; limit?: number }) {
    return unwrap(await client.GET("/api/v1/admin/audit", { params: { query: present(query) } })) as AuditPage;
  },
  async system() {
    return unwrap(await client.GET("/api/v1/admin/system")) as SystemStatus;
  },
};
