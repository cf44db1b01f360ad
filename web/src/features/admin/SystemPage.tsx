// System status: every running instance (uptime, sockets, streams, errors), the database's and Redis's
// round trip, queues, failed jobs, the outbox backlog and circuit breakers. Refreshed every few
// seconds while the page is visible (TanStack Query pauses the interval in a hidden tab).
import { useQuery } from "@tanstack/react-query";
import { AdminNav } from "./AdminNav";
import { adminApi, type DependencyLatency } from "./adminApi";

export const REFRESH_MS = 5_000;

export function duration(seconds: number): string {
  const s = Math.floor(seconds);
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3_600);
  const minutes = Math.floor((s % 3_600) / 60);
  if (days > 0) return `${days} d ${hours} h`;
  if (hours > 0) return `${hours} h ${minutes} min`;
  if (minutes > 0) return `${minutes} min ${s % 60} s`;
  return `${s} s`;
}

const STATE_LABEL: Record<string, string> = {
  up: "up",
  down: "down",
  not_configured: "not configured",
  closed: "closed",
  half_open: "half open",
  open: "open",
};

function State({ state }: { state: string }) {
  return <span className={`state-${state}`}>{STATE_LABEL[state] ?? state}</span>;
}

function Dependency({ id, name, dep }: { id: string; name: string; dep: DependencyLatency }) {
  return (
    <div className="stat" data-testid={`dependency-${id}`}>
      <dt>{name}</dt>
      <dd>
        <State state={dep.status} />
        {dep.latency_ms !== null && ` · ${dep.latency_ms.toFixed(1)} ms`}
      </dd>
      {dep.error && <dd className="meta">{dep.error}</dd>}
    </div>
  );
}

function Stat({ label, value }: { label: string; value: string | number }) {
  return (
    <div className="stat">
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

export default function SystemPage() {
  const status = useQuery({
    queryKey: ["admin-system"],
    queryFn: () => adminApi.system(),
    refetchInterval: REFRESH_MS,
    refetchIntervalInBackground: false,
    staleTime: 0,
  });
  const s = status.data;
  const breakers = Object.entries(s?.breakers ?? {});
  const queues = Object.entries(s?.jobs.queue_depth ?? {});
  return (
    <div className="page">
      <AdminNav />
      <h1>System status</h1>
      {status.error && (
        <p role="alert" className="error">
          {status.error.message}
          {s && " (showing the last answer)"}
        </p>
      )}
      {status.isPending && <p role="status">Loading…</p>}
      {s && (
        <>
          <p className="meta" data-testid="checked-at">
            Version {s.version} · checked <time dateTime={s.checked_at}>{new Date(s.checked_at).toLocaleTimeString()}</time> · refreshed every{" "}
            {REFRESH_MS / 1000} s
          </p>
          <section aria-labelledby="health-title" className="card">
            <h2 id="health-title">Health</h2>
            <dl className="stat-grid">
              <Dependency id="database" name="Database" dep={s.database} />
              <Dependency id="redis" name="Redis" dep={s.redis} />
              <Stat label="Error rate (recent)" value={`${(s.recent_error_rate * 100).toFixed(1)} % of ${s.recent_requests}`} />
              <Stat label="Open WebSockets" value={s.open_websockets} />
              <Stat label="Replies streaming" value={s.streaming_replies} />
            </dl>
          </section>
          <section aria-labelledby="jobs-title" className="card">
            <h2 id="jobs-title">Background jobs</h2>
            <dl className="stat-grid">
              {queues.map(([queue, depth]) => (
                <Stat key={queue} label={`Queue ${queue}`} value={depth === null ? "unreadable" : `${depth} waiting`} />
              ))}
              <Stat label="Failed jobs" value={s.jobs.failed_jobs === null ? "not tracked" : s.jobs.failed_jobs} />
              <Stat
                label="Outbox backlog"
                value={s.jobs.outbox_backlog === 0 ? "0" : `${s.jobs.outbox_backlog} (oldest ${duration(s.jobs.outbox_oldest_age_seconds)})`}
              />
            </dl>
          </section>
          <section aria-labelledby="breakers-title" className="card">
            <h2 id="breakers-title">Circuit breakers</h2>
            {breakers.length === 0 ? (
              <p className="muted">No breakers reported.</p>
            ) : (
              <dl className="stat-grid">
                {breakers.map(([name, state]) => (
                  <div className="stat" key={name} data-testid={`breaker-${name}`}>
                    <dt>{name}</dt>
                    <dd>
                      <State state={state} />
                    </dd>
                  </div>
                ))}
              </dl>
            )}
          </section>
          <section aria-labelledby="instances-title" className="card">
            <h2 id="instances-title">Instances ({s.instances.length})</h2>
            {!s.instances_shared && <p className="meta">Only this instance is seen: without Redis, instances do not see each other.</p>}
            <div className="table-scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Instance</th>
                    <th scope="col">Role</th>
                    <th scope="col">Up for</th>
                    <th scope="col">Sockets</th>
                    <th scope="col">Streams</th>
                    <th scope="col">Requests / 5xx</th>
                    <th scope="col">Version</th>
                  </tr>
                </thead>
                <tbody>
                  {s.instances.map((i) => (
                    <tr key={i.instance_id} data-testid="instance">
                      <th scope="row">
                        {i.host}:{i.pid}
                        {i.current && <span className="meta"> (answering)</span>}
                      </th>
                      <td>{i.role}</td>
                      <td>{duration(i.uptime_seconds)}</td>
                      <td>{i.open_websockets}</td>
                      <td>{i.streaming_replies}</td>
                      <td>
                        {i.recent_requests} / {i.recent_server_errors}
                      </td>
                      <td>{i.version}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        </>
      )}
    </div>
  );
}
