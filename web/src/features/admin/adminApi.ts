// The console's API calls (analytics, moderation, audit, system status), typed by the generated schema.
import { api, unwrap, type Schemas } from "../../api/client";

export type UsageStats = Schemas["UsageStatsResponse"];
export type UsageAnalytics = Schemas["UsageAnalyticsResponse"];
export type UserAnalytics = Schemas["UserAnalyticsResponse"];
export type ContentAnalytics = Schemas["ContentAnalyticsResponse"];
export type TopSpenders = Schemas["TopSpendersResponse"];
export type ModerationItem = Schemas["ModerationItemResponse"];
export type ModerationPage = Schemas["ModerationPageResponse"];
export type AuditEvent = Schemas["AuditEventResponse"];
export type AuditPage = Schemas["AuditPageResponse"];
export type DependencyLatency = Schemas["DependencyResponse"];
export type SystemStatus = Schemas["SystemStatusResponse"];

export type GroupBy = "day" | "user" | "model" | "provider" | "api_key";
export type ModerationKind = "message" | "article" | "passage" | "tool_input";
export type ResolveAction = Schemas["ResolveRequest"]["action"];

/** An empty filter is no filter: it is not sent. */
function given(value: string | undefined): string | undefined {
  return value ? value : undefined;
}

export const adminApi = {
  async usage(query: { from?: string; to?: string; group_by: GroupBy; limit?: number }) {
    return unwrap(await api.GET("/api/v1/admin/analytics/usage", { params: { query } }));
  },
  async users(query: { from?: string; to?: string }) {
    return unwrap(await api.GET("/api/v1/admin/analytics/users", { params: { query } }));
  },
  async content(query: { from?: string; to?: string }) {
    return unwrap(await api.GET("/api/v1/admin/analytics/content", { params: { query } }));
  },
  async top(query: { by: "cost" | "requests"; period: "day" | "week" | "month"; limit?: number }) {
    return unwrap(await api.GET("/api/v1/admin/analytics/top", { params: { query } }));
  },
  async moderation(query: { status: "open" | "resolved"; kind: ModerationKind | ""; before?: string; limit?: number }) {
    return unwrap(
      await api.GET("/api/v1/admin/moderation", {
        params: { query: { status: query.status, kind: query.kind || undefined, before: query.before, limit: query.limit } },
      }),
    );
  },
  async resolve(id: string, action: ResolveAction, note: string) {
    return unwrap(
      await api.POST("/api/v1/admin/moderation/{item_id}/resolve", {
        params: { path: { item_id: id } },
        body: { action, note: note.trim() || null },
      }),
    );
  },
  async audit(query: { actor: string; action: string; target: string; before?: string; limit?: number }) {
    return unwrap(
      await api.GET("/api/v1/admin/audit", {
        params: {
          query: {
            actor: given(query.actor),
            action: given(query.action),
            target: given(query.target),
            before: query.before,
            limit: query.limit,
          },
        },
      }),
    );
  },
  async system() {
    return unwrap(await api.GET("/api/v1/admin/system"));
  },
};
