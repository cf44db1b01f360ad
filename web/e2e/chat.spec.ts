import { expect, test } from "@playwright/test";
import { captureScreens, register, watchErrors } from "./helpers";

const LONG = Array.from({ length: 240 }, (_, i) => `word${i}`).join(" ");

test("chat: tokens stream in, usage and cost are shown, the conversation is listed", async ({ page }) => {
  const errors = watchErrors(page);
  await register(page, "streamer");
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill("Hello **Parley**, this is a streamed reply with several words in it for the test");
  await box.press("Enter");
  const reply = page.locator("article.bubble.assistant").last();
  // Tokens arrive while the reply is still streaming.
  await expect(reply).toHaveAttribute("data-streaming", "true");
  await expect(reply).toContainText("Hello");
  await expect(reply).not.toHaveAttribute("data-streaming", "true", { timeout: 20_000 });
  await expect(reply.locator("strong")).toHaveText("Parley"); // Markdown rendered
  await expect(reply.locator(".meta")).toContainText("tokens");
  await expect(reply.locator(".meta")).toContainText("$0.00");
  await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("complementary", { name: "Conversations" }).getByRole("link").first()).toBeVisible();
  // The model picker shows each model's price; the export downloads the conversation as Markdown.
  await expect(page.getByRole("combobox", { name: "Model" })).toContainText("Offline lorem ipsum · $0/$0 per 1M");
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: "Export" }).click();
  const file = await (await download).path();
  const { readFileSync } = await import("node:fs");
  expect(readFileSync(file, "utf8")).toContain("this is a streamed reply");
  // Shift+Enter is a new line, not a send.
  await box.fill("line one");
  await box.press("Shift+Enter");
  await box.pressSequentially("line two");
  await expect(box).toHaveValue("line one\nline two");
  expect(errors).toEqual([]);
});

test("chat: Esc stops a reply and it is kept as stopped", async ({ page }) => {
  await register(page, "stopper");
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(LONG);
  await box.press("Enter");
  const reply = page.locator("article.bubble.assistant").last();
  await expect(reply).toContainText("word5");
  await page.keyboard.press("Escape");
  await expect(reply.locator(".meta")).toContainText("stopped", { timeout: 15_000 });
  await expect(reply).not.toContainText("word239");
  await expect(page.getByRole("button", { name: "Send" })).toBeVisible();
});

test("chat: a reload mid-reply resumes the reply where it was", async ({ page }) => {
  await register(page, "reloader");
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(LONG);
  await box.press("Enter");
  await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  await expect(page.locator("article.bubble.assistant").last()).toContainText("word10");
  await page.reload();
  const reply = page.locator("article.bubble.assistant").last();
  await expect(reply).toHaveAttribute("data-streaming", "true");
  await expect(reply).toContainText("word239", { timeout: 30_000 });
  await expect(reply).not.toHaveAttribute("data-streaming", "true");
  // Every word once, in order: nothing lost or doubled across the reload.
  await expect(reply.locator(".markdown")).toHaveText(LONG);
});

test("chat: HTML in a reply is shown as text, never run", async ({ page }) => {
  await register(page, "mallory");
  const attack = '<img src=x onerror="window.__pwned=1"> and <script>window.__pwned=2</script>';
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(attack);
  await box.press("Enter");
  const reply = page.locator("article.bubble.assistant").last();
  await expect(reply).not.toHaveAttribute("data-streaming", "true", { timeout: 20_000 });
  await expect(reply).toContainText("<img src=x onerror=");
  expect(await page.locator(".messages img, .messages script").count()).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
});

test("chat: regenerate, draft per conversation, rename, archive and screenshots", async ({ page }) => {
  await register(page, "grace");
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill("Show me code:\n\n```python\nprint('hello')\n```");
  await box.press("Enter");
  const reply = page.locator("article.bubble.assistant").last();
  await expect(reply).not.toHaveAttribute("data-streaming", "true", { timeout: 20_000 });
  await expect(reply.getByRole("button", { name: "Copy" })).toBeVisible();
  await expect(reply.locator("code.hljs, code .hljs-built_in, code[class*=language-]").first()).toBeVisible();
  await reply.getByRole("button", { name: "Regenerate" }).click();
  await expect(page.locator("article.bubble.assistant")).toHaveCount(1);
  await expect(page.locator("article.bubble.assistant").last()).not.toHaveAttribute("data-streaming", "true", { timeout: 20_000 });
  await expect(page.locator("article.bubble.assistant").last()).toContainText("print");
  const firstUrl = page.url();

  // A draft stays with its conversation.
  await box.fill("draft for the first conversation");
  await page.getByRole("button", { name: "New chat" }).click();
  await expect(box).toHaveValue("");
  await page.goto(firstUrl);
  await expect(box).toHaveValue("draft for the first conversation");

  const sidebar = page.getByRole("complementary", { name: "Conversations" });
  await sidebar.getByRole("button", { name: /^Rename/ }).first().click();
  await sidebar.getByRole("textbox", { name: "New title" }).fill("Code sample");
  await sidebar.getByRole("textbox", { name: "New title" }).press("Enter");
  await expect(sidebar.getByRole("link", { name: "Code sample" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Code sample" })).toBeVisible();
  await sidebar.getByRole("searchbox").fill("sample");
  await expect(sidebar.getByRole("link")).toHaveCount(1);
  await sidebar.getByRole("searchbox").fill("");
  await captureScreens(page, "chat");

  await sidebar.getByRole("button", { name: "Archive Code sample" }).click();
  await expect(sidebar.getByRole("link", { name: "Code sample" })).toHaveCount(0);
  await sidebar.getByLabel("Archived").check();
  await expect(sidebar.getByRole("link", { name: "Code sample" })).toBeVisible();
  await sidebar.getByRole("button", { name: "Delete Code sample" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(sidebar.getByRole("link", { name: "Code sample" })).toHaveCount(0);
});

test("chat: without the WebSocket, replies stream over server-sent events and still stop", async ({ page }) => {
  // Every WebSocket to the chat is refused: the page falls back to the REST routes with SSE.
  await page.routeWebSocket(/\/api\/v1\/ws\/chat/, (socket) => socket.close({ code: 1011, reason: "refused by the test" }));
  await register(page, "nosocket");
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill("streamed over server-sent events");
  await box.press("Enter");
  const reply = page.locator("article.bubble.assistant").last();
  await expect(reply).toContainText("streamed over server-sent events", { timeout: 20_000 });
  await expect(reply).not.toHaveAttribute("data-streaming", "true", { timeout: 20_000 });
  await expect(reply.locator(".meta")).toContainText("tokens");
  await box.fill(LONG);
  await box.press("Enter");
  const second = page.locator("article.bubble.assistant").last();
  await expect(second).toContainText("word5");
  await page.keyboard.press("Escape");
  await expect(second.locator(".meta")).toContainText("stopped", { timeout: 15_000 });
});
