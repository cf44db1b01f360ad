// Admin analytics: usage over a date range grouped by day, user, model, provider or API key (chart and
// table), sign-ups and active users, articles, top spenders. A chunk of its own (charts), for staff.
import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { usd } from "../../api/client";
import { AdminNav } from "./AdminNav";
import { adminApi, type GroupBy, type UsageStats } from "./adminApi";

const GROUPS: ReadonlyArray<readonly [GroupBy, string]> = [
  ["day", "Day"],
  ["user", "User"],
  ["model", "Model"],
  ["provider", "Provider"],
  ["api_key", "API key"],
];

type Metric = "tokens" | "cost" | "requests";
const METRICS: Record<Metric, string> = { tokens: "Tokens", cost: "Cost", requests: "Requests" };

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** The last 30 days, today included (UTC, as the API counts days). */
export function defaultRange(now = new Date()): { from: string; to: string } {
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - 29));
  return { from: isoDay(from), to: isoDay(now) };
}

function ms(value: number | null): string {
  return value === null ? "–" : `${Math.round(value)} ms`;
}

function UsageTable({ items, totals, groupLabel }: { items: UsageStats[]; totals: UsageStats; groupLabel: string }) {
  return (
    <div className="table-scroll">
      <table>
        <caption className="visually-hidden">Usage by {groupLabel.toLowerCase()}</caption>
        <thead>
          <tr>
            <th scope="col">{groupLabel}</th>
            <th scope="col">Requests</th>
            <th scope="col">Input tokens</th>
            <th scope="col">Output tokens</th>
            <th scope="col">Cost</th>
            <th scope="col">Errors</th>
            <th scope="col">Latency p50 / p95</th>
            <th scope="col">First token p50</th>
          </tr>
        </thead>
        <tbody>
          {items.map((row) => (
            <tr key={row.key} data-testid="usage-row">
              <th scope="row">{row.label ?? row.key}</th>
              <td>{row.requests}</td>
              <td>{row.input_tokens}</td>
              <td>{row.output_tokens}</td>
              <td>{usd(row.cost_micros)}</td>
              <td>{row.errors}</td>
              <td>
                {ms(row.latency_p50_ms)} / {ms(row.latency_p95_ms)}
              </td>
              <td>{ms(row.ttft_p50_ms)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row">All</th>
            <td>{totals.requests}</td>
            <td>{totals.input_tokens}</td>
            <td>{totals.output_tokens}</td>
            <td>{usd(totals.cost_micros)}</td>
            <td>{totals.errors}</td>
            <td>
              {ms(totals.latency_p50_ms)} / {ms(totals.latency_p95_ms)}
            </td>
            <td>{ms(totals.ttft_p50_ms)}</td>
          </tr>
        </tfoot>
      </table>
    </div>
  );
}

function Usage({ from, to }: { from: string; to: string }) {
  const [groupBy, setGroupBy] = useState<GroupBy>("day");
  const groupLabel = GROUPS.find(([value]) => value === groupBy)?.[1] ?? groupBy;
  const usage = useQuery({
    queryKey: ["admin-analytics", "usage", from, to, groupBy],
    queryFn: () => adminApi.usage({ from, to, group_by: groupBy }),
  });
  const [metric, setMetric] = useState<Metric>("tokens");
  const chart = (usage.data?.items ?? []).map((row) => ({
    name: row.label ?? row.key,
    input: row.input_tokens,
    output: row.output_tokens,
    cost: row.cost_micros / 1_000_000,
    requests: row.requests,
  }));
  const described = chart
    .map((d) => `${d.name} ${metric === "tokens" ? d.input + d.output : metric === "cost" ? `$${d.cost.toFixed(2)}` : d.requests}`)
    .join(", ");
  return (
    <section aria-labelledby="usage-title" className="card">
      <div className="row spread">
        <h2 id="usage-title">Usage</h2>
        <div className="filters">
          <label>
            Group by
            <select value={groupBy} onChange={(e) => setGroupBy(e.target.value as GroupBy)}>
              {GROUPS.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Chart
            <select value={metric} onChange={(e) => setMetric(e.target.value as Metric)}>
              {Object.entries(METRICS).map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </label>
        </div>
      </div>
      {usage.error && (
        <p role="alert" className="error">
          {usage.error.message}
        </p>
      )}
      {usage.data && usage.data.items.length === 0 && <p className="muted">No model calls in this range.</p>}
      {usage.data && usage.data.items.length > 0 && (
        <>
          <div
            className="chart"
            role="img"
            aria-label={`${METRICS[metric]} by ${groupLabel.toLowerCase()}: ${described}`}
          >
            <ResponsiveContainer width="100%" height={260}>
              <BarChart data={chart}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="name" />
                <YAxis />
                <Tooltip />
                <Legend />
                {metric === "tokens" && <Bar dataKey="input" name="Input tokens" stackId="t" fill="#6366f1" />}
                {metric === "tokens" && <Bar dataKey="output" name="Output tokens" stackId="t" fill="#14b8a6" />}
                {metric === "cost" && <Bar dataKey="cost" name="Cost (USD)" fill="#f59e0b" />}
                {metric === "requests" && <Bar dataKey="requests" name="Requests" fill="#6366f1" />}
              </BarChart>
            </ResponsiveContainer>
          </div>
          <UsageTable items={usage.data.items} totals={usage.data.totals} groupLabel={groupLabel} />
        </>
      )}
    </section>
  );
}

function Users({ from, to }: { from: string; to: string }) {
  const users = useQuery({ queryKey: ["admin-analytics", "users", from, to], queryFn: () => adminApi.users({ from, to }) });
  const byDay = new Map<string, { signups: number; active: number }>();
  for (const row of users.data?.items ?? []) {
    const day = byDay.get(row.day) ?? { signups: 0, active: 0 };
    day.signups += row.signups;
    day.active += row.active_users;
    byDay.set(row.day, day);
  }
  const days = [...byDay.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  const signups = days.reduce((sum, [, d]) => sum + d.signups, 0);
  return (
    <section aria-labelledby="users-title" className="card">
      <h2 id="users-title">Users</h2>
      {users.error && (
        <p role="alert" className="error">
          {users.error.message}
        </p>
      )}
      {users.data && (
        <>
          <p data-testid="signups-total">
            {signups} sign-ups in this range
          </p>
          {days.length === 0 ? (
            <p className="muted">No sign-ups or active users in this range.</p>
          ) : (
            <div className="table-scroll">
              <table>
                <caption className="visually-hidden">Sign-ups and active users per day</caption>
                <thead>
                  <tr>
                    <th scope="col">Day</th>
                    <th scope="col">Sign-ups</th>
                    <th scope="col">Active users</th>
                  </tr>
                </thead>
                <tbody>
                  {days.map(([day, d]) => (
                    <tr key={day}>
                      <th scope="row">{day}</th>
                      <td>{d.signups}</td>
                      <td>{d.active}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}

function Content({ from, to }: { from: string; to: string }) {
  const content = useQuery({ queryKey: ["admin-analytics", "content", from, to], queryFn: () => adminApi.content({ from, to }) });
  const byStatus = new Map<string, number>();
  for (const row of content.data?.items ?? []) byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + row.articles);
  return (
    <section aria-labelledby="content-title" className="card">
      <h2 id="content-title">Content</h2>
      {content.error && (
        <p role="alert" className="error">
          {content.error.message}
        </p>
      )}
      {content.data && (
        <>
          <p data-testid="articles-by-status">
            {byStatus.size === 0
              ? "No articles created in this range."
              : [...byStatus.entries()].map(([status, n]) => `${n} ${status}`).join(" · ")}
          </p>
          {content.data.top_tags.length > 0 && (
            <>
              <h3>Top tags</h3>
              <ol>
                {content.data.top_tags.map((t) => (
                  <li key={t.tag}>
                    {t.tag} <span className="meta">({t.articles})</span>
                  </li>
                ))}
              </ol>
            </>
          )}
        </>
      )}
    </section>
  );
}

function TopSpenders() {
  const [by, setBy] = useState<"cost" | "requests">("cost");
  const [period, setPeriod] = useState<"day" | "week" | "month">("month");
  const top = useQuery({ queryKey: ["admin-analytics", "top", by, period], queryFn: () => adminApi.top({ by, period, limit: 10 }) });
  return (
    <section aria-labelledby="top-title" className="card">
      <div className="row spread">
        <h2 id="top-title">Top spenders</h2>
        <div className="filters">
          <label>
            By
            <select value={by} onChange={(e) => setBy(e.target.value as typeof by)}>
              <option value="cost">Cost</option>
              <option value="requests">Requests</option>
            </select>
          </label>
          <label>
            Period
            <select value={period} onChange={(e) => setPeriod(e.target.value as typeof period)}>
              <option value="day">Today</option>
              <option value="week">This week</option>
              <option value="month">This month</option>
            </select>
          </label>
        </div>
      </div>
      {top.error && (
        <p role="alert" className="error">
          {top.error.message}
        </p>
      )}
      {top.data && top.data.items.length === 0 && <p className="muted">Nobody used a model in this period.</p>}
      {top.data && top.data.items.length > 0 && (
        <div className="table-scroll">
          <table>
            <caption className="visually-hidden">Top spenders</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Tier</th>
                <th scope="col">Requests</th>
                <th scope="col">Cost</th>
              </tr>
            </thead>
            <tbody>
              {top.data.items.map((s) => (
                <tr key={s.user_id} data-testid="spender">
                  <th scope="row">
                    {s.display_name}
                    <br />
                    <span className="meta">{s.email}</span>
                  </th>
                  <td>{s.tier}</td>
                  <td>{s.requests}</td>
                  <td>{usd(s.cost_micros)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export default function AnalyticsPage() {
  const [range, setRange] = useState(defaultRange);
  const [error, setError] = useState<string | null>(null);
  function apply(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const from = String(form.get("from"));
    const to = String(form.get("to"));
    if (!from || !to) return setError("Pick both days.");
    if (from > to) return setError("The first day must not be after the last.");
    setError(null);
    setRange({ from, to });
  }
  return (
    <div className="page">
      <AdminNav />
      <h1>Analytics</h1>
      <form className="filters" onSubmit={apply} aria-label="Date range">
        <label>
          From
          <input name="from" type="date" defaultValue={range.from} required />
        </label>
        <label>
          To
          <input name="to" type="date" defaultValue={range.to} required />
        </label>
        <button type="submit">Show</button>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </form>
      <Usage from={range.from} to={range.to} />
      <div className="split">
        <Users from={range.from} to={range.to} />
        <Content from={range.from} to={range.to} />
      </div>
      <TopSpenders />
    </div>
  );
}
