// The header's bell: the unread count, kept live by the notification feed, and the way to the inbox.
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link } from "react-router";
import { chatStream } from "../chat/useChat";
import { NotificationFeed } from "./feed";
import { NOTIFICATIONS, useUnreadCount } from "./queries";

export function Bell() {
  const queryClient = useQueryClient();
  const unread = useUnreadCount();
  const latest = unread.data?.latest ?? null;
  const [feed, setFeed] = useState<NotificationFeed | null>(null);
  useEffect(() => {
    // One feed per signed-in layout: a new one after signing in again (nothing carried over between users).
    const live = new NotificationFeed(chatStream(), () => void queryClient.invalidateQueries({ queryKey: NOTIFICATIONS }));
    live.start();
    setFeed(live);
    return () => live.stop();
  }, [queryClient]);
  useEffect(() => feed?.setLatest(latest), [feed, latest]);
  const count = unread.data?.unread ?? 0;
  const label = count === 0 ? "Notifications, none unread" : `Notifications, ${count} unread`;
  return (
    <Link to="/notifications" className="bell" aria-label={label} title={label} data-testid="bell">
      <svg aria-hidden="true" viewBox="0 0 24 24" width="20" height="20" focusable="false">
        <path
          fill="currentColor"
          d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"
        />
      </svg>
      {count > 0 && (
        <span className="bell-count" aria-hidden="true">
          {count > 99 ? "99+" : count}
        </span>
      )}
    </Link>
  );
}
