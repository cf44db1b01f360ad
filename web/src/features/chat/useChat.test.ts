import { QueryClient, QueryObserver } from "@tanstack/react-query";
import { describe, expect, it, vi } from "vitest";
import { refreshAfterReply } from "./useChat";

describe("refreshAfterReply", () => {
  it("reads the messages again even when their first read, started mid-reply, is still in flight", async () => {
    // Regression (a Playwright flake): the page of a new conversation opens while the reply is written;
    // its first read of the messages was joined by the read after `done`, so the reply showed empty.
    const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    const answers = [
      { content: "", resolveAfter: 50 }, // read while the reply was being written
      { content: "small screen", resolveAfter: 0 }, // read after it ended
    ];
    let calls = 0;
    const observer = new QueryObserver(queryClient, {
      queryKey: ["messages", "c1"],
      queryFn: async () => {
        const answer = answers[Math.min(calls++, answers.length - 1)];
        await new Promise((resolve) => setTimeout(resolve, answer.resolveAfter));
        return [{ id: "m1", content: answer.content }];
      },
    });
    const unsubscribe = observer.subscribe(() => {});
    await Promise.resolve(); // the first read is under way
    const forget = vi.fn();
    await refreshAfterReply(queryClient, { forget }, "c1");
    expect(forget).toHaveBeenCalledWith("c1");
    expect(queryClient.getQueryData(["messages", "c1"])).toEqual([{ id: "m1", content: "small screen" }]);
    expect(calls).toBe(2);
    unsubscribe();
  });
});
