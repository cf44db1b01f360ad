// The audit log: who changed what, when and from where; newest first, filtered by actor, action and
// target, "Load more" with the `before` cursor. A chunk of its own, for staff.
import { useInfiniteQuery } from "@tanstack/react-query";
import { useState, type ChangeEvent, type FormEvent } from "react";
import { AdminNav } from "./AdminNav";
import { adminApi, type AuditEvent } from "./adminApi";

export const PAGE_SIZE = 50;

interface Filters {
  actor: string;
  action: string;
  target: string;
}

function details(event: AuditEvent): string {
  return Object.entries(event.data)
    .filter(([, value]) => value !== null && value !== undefined && value !== "")
    .map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" · ");
}

function Event({ event, onFilter }: { event: AuditEvent; onFilter: (change: Partial<Filters>) => void }) {
  const data = details(event);
  return (
    <li className="audit-event" data-testid="audit-event">
      <div className="notification-head">
        <strong>{event.action}</strong>
        <span className="meta">
          {event.target_type}
          {event.target_id && ` ${event.target_id}`}
        </span>
        <time className="meta" dateTime={event.at}>
          {new Date(event.at).toLocaleString()}
        </time>
      </div>
      <p className="meta">
        by {event.actor_id ?? "the system"}
        {event.actor_ip && ` from ${event.actor_ip}`}
      </p>
      <div className="row">
        {event.actor_id && (
          <button className="ghost small" onClick={() => onFilter({ actor: event.actor_id ?? "" })}>
            Only this actor
          </button>
        )}
        {event.target_id && (
          <button className="ghost small" onClick={() => onFilter({ target: event.target_id ?? "" })}>
            Only this target
          </button>
        )}
      </div>
      {data && <p className="audit-data">{data}</p>}
    </li>
  );
}

export default function AuditPage() {
  const [filters, setFilters] = useState<Filters>({ actor: "", action: "", target: "" });
  // What the form shows; applied on submit, or at once from an event's "Only this ..." buttons.
  const [draft, setDraft] = useState<Filters>(filters);
  const filterBy = (change: Partial<Filters>) => {
    const next = { ...draft, ...change };
    setDraft(next);
    setFilters(next);
  };
  const log = useInfiniteQuery({
    queryKey: ["admin-audit", filters],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      adminApi.audit({
        actor: filters.actor.trim(),
        action: filters.action.trim(),
        target: filters.target.trim(),
        before: pageParam ?? undefined,
        limit: PAGE_SIZE,
      }),
    getNextPageParam: (last) => last.next_before,
  });
  const events = log.data?.pages.flatMap((page) => page.items) ?? [];
  function apply(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setFilters(draft);
  }
  const field = (name: keyof Filters) => ({
    name,
    value: draft[name],
    onChange: (e: ChangeEvent<HTMLInputElement>) => setDraft({ ...draft, [name]: e.target.value }),
  });
  return (
    <div className="page">
      <AdminNav />
      <h1>Audit log</h1>
      <form className="filters" onSubmit={apply} aria-label="Filter the audit log">
        <label>
          Actor (user id)
          <input {...field("actor")} />
        </label>
        <label>
          Action
          <input {...field("action")} placeholder="user.role_changed" />
        </label>
        <label>
          Target (id)
          <input {...field("target")} />
        </label>
        <button type="submit">Filter</button>
        {(filters.actor || filters.action || filters.target) && (
          <button type="button" className="ghost" onClick={() => filterBy({ actor: "", action: "", target: "" })}>
            Clear filters
          </button>
        )}
      </form>
      {log.error && (
        <p role="alert" className="error">
          {log.error.message}
        </p>
      )}
      {log.isPending && <p role="status">Loading…</p>}
      {log.data && events.length === 0 && <p className="muted">No events match.</p>}
      <ol className="notifications" aria-label="Events, newest first">
        {events.map((event) => (
          <Event key={event.id} event={event} onFilter={filterBy} />
        ))}
      </ol>
      {log.hasNextPage && (
        <button onClick={() => log.fetchNextPage()} disabled={log.isFetchingNextPage}>
          {log.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
    </div>
  );
}
