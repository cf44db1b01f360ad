// The inbox: newest first, mark read, mark all read, delete, load more with the cursor.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap, type Notification } from "../../api/client";
import { NOTIFICATIONS, useInbox, useUnreadCount } from "./queries";

const CATEGORY_LABEL: Record<string, string> = {
  security: "Security",
  budget: "Budget",
  content: "Content",
  announcements: "Announcement",
  system: "System",
};

function Item({ notification, onRead, onDelete }: { notification: Notification; onRead: () => void; onDelete: () => void }) {
  const unread = notification.read_at === null;
  const titleId = `notification-${notification.id}`;
  return (
    <li className={unread ? "notification unread" : "notification"} aria-labelledby={titleId} data-testid="notification">
      <div className="notification-head">
        <span className={`tag category-${notification.category}`}>{CATEGORY_LABEL[notification.category] ?? notification.category}</span>
        <h2 id={titleId}>
          {notification.title}
          {unread && <span className="visually-hidden"> (unread)</span>}
        </h2>
        <time dateTime={notification.created_at} className="meta">
          {new Date(notification.created_at).toLocaleString()}
        </time>
      </div>
      {notification.body && <p className="notification-body">{notification.body}</p>}
      <div className="row">
        {unread && (
          <button className="small" onClick={onRead} aria-label={`Mark read: ${notification.title}`}>
            Mark read
          </button>
        )}
        <button className="danger small" onClick={onDelete} aria-label={`Delete: ${notification.title}`}>
          Delete
        </button>
      </div>
    </li>
  );
}

export default function InboxPage() {
  const queryClient = useQueryClient();
  const [unreadOnly, setUnreadOnly] = useState(false);
  const inbox = useInbox(unreadOnly);
  const unread = useUnreadCount();
  const refresh = () => queryClient.invalidateQueries({ queryKey: NOTIFICATIONS });
  const readAll = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/notifications/read-all")),
    onSuccess: refresh,
  });
  const act = useMutation({
    mutationFn: async ({ id, action }: { id: string; action: "read" | "delete" }) => {
      const params = { params: { path: { notification_id: id } } };
      const result =
        action === "read"
          ? await api.POST("/api/v1/notifications/{notification_id}/read", params)
          : await api.DELETE("/api/v1/notifications/{notification_id}", params);
      if (!result.response.ok) throw new Error(action === "read" ? "Could not mark it read" : "Could not delete it");
    },
    onSettled: refresh,
  });
  const items = inbox.data?.pages.flatMap((page) => page.items) ?? [];
  const count = unread.data?.unread ?? 0;
  return (
    <div className="page inbox">
      <div className="row spread">
        <h1>Notifications</h1>
        <p className="meta" aria-live="polite" data-testid="unread-summary">
          {count === 0 ? "All read" : `${count} unread`}
        </p>
      </div>
      <div className="row">
        <label className="inline">
          <input type="checkbox" checked={unreadOnly} onChange={(e) => setUnreadOnly(e.target.checked)} />
          Unread only
        </label>
        <button onClick={() => readAll.mutate()} disabled={count === 0 || readAll.isPending}>
          Mark all read
        </button>
      </div>
      {(act.error ?? readAll.error) && (
        <p role="alert" className="error">
          {(act.error ?? readAll.error)?.message}
        </p>
      )}
      {inbox.isPending && <p role="status">Loading…</p>}
      {inbox.error && <p role="alert" className="error">{inbox.error.message}</p>}
      {inbox.isSuccess && items.length === 0 && <p>{unreadOnly ? "Nothing unread." : "No notifications yet."}</p>}
      <ul className="notifications" aria-label="Notifications">
        {items.map((n) => (
          <Item
            key={n.id}
            notification={n}
            onRead={() => act.mutate({ id: n.id, action: "read" })}
            onDelete={() => act.mutate({ id: n.id, action: "delete" })}
          />
        ))}
      </ul>
      {inbox.hasNextPage && (
        <button onClick={() => void inbox.fetchNextPage()} disabled={inbox.isFetchingNextPage}>
          {inbox.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
    </div>
  );
}
