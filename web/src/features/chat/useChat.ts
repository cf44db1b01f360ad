// Server state of the chat (TanStack Query) and the one live stream of the signed-in page.
import { type QueryClient, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useSyncExternalStore } from "react";
import { api, unwrap, type Conversation, type Message } from "../../api/client";
import { ChatStream, type LiveReply } from "../../api/stream";

let shared: ChatStream | null = null;

export function chatStream(): ChatStream {
  shared ??= new ChatStream();
  return shared;
}

/**
 * A reply ended: read the conversation again, then drop the live reply (the stored one replaces it).
 * A first read of the messages may still be in flight, started while the reply was being written (the
 * page of a new conversation opens mid-reply): invalidating would join that read (TanStack Query joins
 * a query's first fetch instead of restarting it) and the page would show the reply as it was then,
 * empty. Those reads are cancelled first, so the read after the reply is a new one.
 */
export async function refreshAfterReply(
  queryClient: QueryClient,
  stream: Pick<ChatStream, "forget">,
  conversationId: string,
): Promise<void> {
  const mine = [["messages", conversationId], ["conversation", conversationId]];
  await Promise.all(mine.map((queryKey) => queryClient.cancelQueries({ queryKey })));
  await Promise.all(
    [...mine, ["conversations"], ["usage"]].map((queryKey) => queryClient.invalidateQueries({ queryKey })),
  );
  stream.forget(conversationId);
}

export function useChatStream(): ChatStream {
  const queryClient = useQueryClient();
  const stream = chatStream();
  useEffect(() => {
    stream.onTitle = () => void queryClient.invalidateQueries({ queryKey: ["conversations"] });
    stream.onReplyFinished = (conversationId) => void refreshAfterReply(queryClient, stream, conversationId);
    stream.connect();
  }, [stream, queryClient]);
  return stream;
}

export function useLiveReply(stream: ChatStream, conversationId: string | undefined): LiveReply | undefined {
  const replies = useSyncExternalStore(stream.subscribe, stream.snapshot);
  return conversationId ? replies.get(conversationId) : undefined;
}

export function useConversations(q: string, archived: boolean) {
  return useQuery({
    queryKey: ["conversations", q, archived],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/conversations", { params: { query: { q: q || undefined, archived, limit: 100 } } })),
  });
}

export function useConversation(id: string | undefined) {
  return useQuery({
    queryKey: ["conversation", id],
    enabled: !!id,
    queryFn: async (): Promise<Conversation> =>
      unwrap(await api.GET("/api/v1/conversations/{conversation_id}", { params: { path: { conversation_id: id! } } })),
  });
}

/** Every message of a conversation, oldest first (pages of 200 read newest first). */
export function useMessages(id: string | undefined) {
  return useQuery({
    queryKey: ["messages", id],
    enabled: !!id,
    queryFn: async (): Promise<Message[]> => {
      const all: Message[] = [];
      let before: string | undefined;
      for (let page = 0; page < 50; page++) {
        const data = unwrap(
          await api.GET("/api/v1/conversations/{conversation_id}/messages", {
            params: { path: { conversation_id: id! }, query: { limit: 200, before } },
          }),
        );
        all.push(...data.items);
        if (!data.next_before) break;
        before = data.next_before;
      }
      return all.reverse();
    },
  });
}

export function useModels() {
  return useQuery({
    queryKey: ["models"],
    staleTime: 60_000,
    queryFn: async () => unwrap(await api.GET("/api/v1/models", { params: { query: { limit: 100 } } })),
  });
}
