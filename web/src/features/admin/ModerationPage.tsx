// The moderation queue: open and resolved items, a kind filter, excerpt and reasons, resolve with
// dismiss / hide / delete and a note, newest first a page at a time. A chunk of its own, for staff.
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { ConfirmDialog } from "../../ui/ConfirmDialog";
import { AdminNav } from "./AdminNav";
import { adminApi, type ModerationItem, type ModerationKind, type ResolveAction } from "./adminApi";

export const PAGE_SIZE = 20;
const QUEUE = ["admin-moderation"] as const;

const KINDS: ReadonlyArray<readonly [ModerationKind | "", string]> = [
  ["", "Any kind"],
  ["message", "Chat messages"],
  ["article", "Articles"],
  ["passage", "Knowledge passages"],
  ["tool_input", "AI tool input"],
];

const KIND_LABEL: Record<string, string> = {
  message: "Message",
  reply: "Model reply",
  article: "Article",
  passage: "Knowledge passage",
  tool_input: "AI tool input",
};

const REASON_LABEL: Record<string, string> = { user_report: "reported by members" };

/** Items whose content is stored can be hidden or deleted; the others can only be dismissed. */
const CONTENT_KINDS = new Set(["message", "reply", "article"]);

const RESOLUTION: Record<string, string> = { dismiss: "Dismissed", hide: "Hidden", delete: "Deleted" };

function reasonText(item: ModerationItem): string {
  const reasons = item.reasons.map((r) => REASON_LABEL[r] ?? r.replace(/_/g, " "));
  const reports = item.report_count > 1 ? ` (${item.report_count} reports)` : "";
  return reasons.join(", ") + reports;
}

function Item({ item }: { item: ModerationItem }) {
  const queryClient = useQueryClient();
  const noteId = useId();
  const [note, setNote] = useState("");
  const resolve = useMutation({
    mutationFn: (action: ResolveAction) => adminApi.resolve(item.id, action, note),
    onSettled: () => queryClient.invalidateQueries({ queryKey: QUEUE }),
  });
  const kind = KIND_LABEL[item.kind] ?? item.kind;
  const titleId = `moderation-${item.id}`;
  return (
    <li className="moderation-item" aria-labelledby={titleId} data-testid="moderation-item">
      <div className="notification-head">
        <h2 id={titleId} className="item-title">
          {kind}
        </h2>
        <span className="meta">Why: {reasonText(item)}</span>
        <time className="meta" dateTime={item.created_at}>
          {new Date(item.created_at).toLocaleString()}
        </time>
      </div>
      <blockquote className="excerpt">{item.excerpt}</blockquote>
      {item.status === "resolved" ? (
        <p className="meta" data-testid="resolution">
          {item.resolution ? (RESOLUTION[item.resolution] ?? item.resolution) : "Resolved"}
          {item.resolved_at && ` ${new Date(item.resolved_at).toLocaleString()}`}
          {item.resolution_note && ` · “${item.resolution_note}”`}
        </p>
      ) : (
        <div className="resolve">
          <label htmlFor={noteId}>
            Note (optional)
            <input id={noteId} value={note} maxLength={1000} onChange={(e) => setNote(e.target.value)} />
          </label>
          <button className="small" aria-label={`Dismiss ${kind.toLowerCase()}`} disabled={resolve.isPending} onClick={() => resolve.mutate("dismiss")}>
            Dismiss
          </button>
          {CONTENT_KINDS.has(item.kind) && (
            <>
              <ConfirmDialog
                trigger={
                  <button className="small" aria-label={`Hide ${kind.toLowerCase()}`} disabled={resolve.isPending}>
                    Hide
                  </button>
                }
                title={`Hide this ${kind.toLowerCase()}?`}
                description="Only its author and staff will see it."
                confirm="Hide"
                onConfirm={() => resolve.mutate("hide")}
              />
              <ConfirmDialog
                trigger={
                  <button className="danger small" aria-label={`Delete ${kind.toLowerCase()}`} disabled={resolve.isPending}>
                    Delete
                  </button>
                }
                title={`Delete this ${kind.toLowerCase()}?`}
                description="It is removed for everyone, its author included. This cannot be undone."
                confirm="Delete"
                onConfirm={() => resolve.mutate("delete")}
              />
            </>
          )}
        </div>
      )}
      {resolve.error && (
        <p role="alert" className="error">
          {resolve.error.message}
        </p>
      )}
    </li>
  );
}

export default function ModerationPage() {
  const [status, setStatus] = useState<"open" | "resolved">("open");
  const [kind, setKind] = useState<ModerationKind | "">("");
  const queue = useInfiniteQuery({
    queryKey: [...QUEUE, status, kind],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) => adminApi.moderation({ status, kind, before: pageParam ?? undefined, limit: PAGE_SIZE }),
    getNextPageParam: (last) => last.next_before,
  });
  const items = queue.data?.pages.flatMap((page) => page.items) ?? [];
  const tabs: Array<["open" | "resolved", string]> = [
    ["open", "Open"],
    ["resolved", "Resolved"],
  ];
  return (
    <div className="page">
      <AdminNav />
      <h1>Moderation queue</h1>
      <div className="row spread">
        <div role="tablist" aria-label="Status" className="tabs">
          {tabs.map(([id, label]) => (
            <button key={id} role="tab" id={`tab-${id}`} aria-selected={status === id} aria-controls="moderation-panel" onClick={() => setStatus(id)}>
              {label}
            </button>
          ))}
        </div>
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind(e.target.value as ModerationKind | "")}>
            {KINDS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div role="tabpanel" id="moderation-panel" aria-labelledby={`tab-${status}`}>
        {queue.error && (
          <p role="alert" className="error">
            {queue.error.message}
          </p>
        )}
        {queue.isPending && <p role="status">Loading…</p>}
        {queue.data && items.length === 0 && <p className="muted">{status === "open" ? "Nothing to review." : "Nothing resolved yet."}</p>}
        <ul className="notifications">
          {items.map((item) => (
            <Item key={item.id} item={item} />
          ))}
        </ul>
        {queue.hasNextPage && (
          <button onClick={() => queue.fetchNextPage()} disabled={queue.isFetchingNextPage}>
            {queue.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        )}
      </div>
    </div>
  );
}
