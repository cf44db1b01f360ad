// Server state of the notifications (TanStack Query): the unread count, the inbox pages, the preferences.
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";

export const NOTIFICATIONS = ["notifications"] as const;
export const PAGE_SIZE = 20;

/** The bell's figure: one list call with the smallest page (the answer carries `unread_count`). */
export function useUnreadCount(enabled = true) {
  return useQuery({
    queryKey: [...NOTIFICATIONS, "unread"],
    enabled,
    queryFn: async () => {
      const page = unwrap(await api.GET("/api/v1/notifications", { params: { query: { limit: 1 } } }));
      return { unread: page.unread_count, latest: page.items[0]?.id ?? null };
    },
  });
}

/** The inbox, newest first, a page at a time (`next_cursor` is the next page's `before`). */
export function useInbox(unreadOnly: boolean) {
  return useInfiniteQuery({
    queryKey: [...NOTIFICATIONS, "inbox", unreadOnly],
    initialPageParam: null as string | null,
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET("/api/v1/notifications", {
          params: { query: { limit: PAGE_SIZE, unread: unreadOnly || undefined, before: pageParam ?? undefined } },
        }),
      ),
    getNextPageParam: (last) => last.next_cursor,
  });
}

export function usePreferences() {
  return useQuery({
    queryKey: [...NOTIFICATIONS, "preferences"],
    queryFn: async () => unwrap(await api.GET("/api/v1/notifications/preferences")),
  });
}
