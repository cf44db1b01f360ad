import { expect, test, type APIRequestContext } from "@playwright/test";
import { ADMIN, captureScreens, expectAccessible, register, watchErrors } from "./helpers";

async function adminToken(request: APIRequestContext): Promise<string> {
  const answer = await request.post("/api/v1/auth/token", {
    form: { grant_type: "password", username: ADMIN.email, password: ADMIN.password },
  });
  expect(answer.status()).toBe(200);
  return ((await answer.json()) as { access_token: string }).access_token;
}

test("the bell counts an announcement live over the notifications stream; the inbox marks it read", async ({ page, request }) => {
  const errors = watchErrors(page);
  await register(page, "reader");
  // A fresh load of the inbox: the chat socket is not open, so the bell follows the SSE stream.
  const streamOpened = page.waitForRequest((r) => r.url().includes("/api/v1/notifications/stream"));
  await page.goto("/notifications");
  await streamOpened;
  await expect(page.getByRole("heading", { name: /^Welcome to Parley, reader/ })).toBeVisible({ timeout: 20_000 });
  await page.getByRole("button", { name: "Mark all read" }).click();
  const bell = page.getByTestId("bell");
  await expect(bell).toHaveAccessibleName("Notifications, none unread");

  const title = `Maintenance window ${Date.now().toString(36)}`;
  const posted = await request.post("/api/v1/admin/announcements", {
    headers: { Authorization: `Bearer ${await adminToken(request)}` },
    data: { title, body: "Parley restarts at 02:00 UTC for five minutes.", audience: "all" },
  });
  expect(posted.status()).toBe(202);

  // No reload, no click: the count and the inbox change by themselves.
  await expect(bell).toHaveAccessibleName("Notifications, 1 unread", { timeout: 20_000 });
  await expect(bell.locator(".bell-count")).toHaveText("1");
  const item = page.getByTestId("notification").filter({ has: page.getByRole("heading", { name: title }) });
  await expect(item).toContainText("Parley restarts at 02:00 UTC");
  await expect(page.getByTestId("notification").first()).toContainText(title); // newest first
  await expectAccessible(page);
  await captureScreens(page, "notifications");

  await item.getByRole("button", { name: `Mark read: ${title}` }).click();
  await expect(bell).toHaveAccessibleName("Notifications, none unread");
  await expect(bell.locator(".bell-count")).toHaveCount(0);
  await expect(item.getByRole("button", { name: /^Mark read/ })).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId("unread-summary")).toHaveText("All read");
  expect(errors).toEqual([]);
});

test("over the chat socket: a new API key rings the bell; delete it from the inbox; preferences keep", async ({ page }) => {
  // Notification streams the page holds open: none once the chat socket is ready.
  let openStreams = 0;
  const isStream = (url: string) => url.includes("/api/v1/notifications/stream");
  page.on("request", (r) => void (isStream(r.url()) && (openStreams += 1)));
  page.on("requestfailed", (r) => void (isStream(r.url()) && (openStreams -= 1)));
  page.on("requestfinished", (r) => void (isStream(r.url()) && (openStreams -= 1)));
  await register(page, "keyholder");
  const bell = page.getByTestId("bell");
  await expect(bell).toHaveAccessibleName("Notifications, 1 unread", { timeout: 20_000 }); // the welcome
  await expect.poll(() => openStreams).toBe(0);
  await page.getByRole("link", { name: "Settings" }).click(); // same page: the chat socket stays open
  await page.getByLabel("Key name").fill("deploy bot");
  await page.getByRole("button", { name: "Create key" }).click();
  await expect(page.getByTestId("new-api-key")).toBeVisible();
  await expect(bell).toHaveAccessibleName("Notifications, 2 unread", { timeout: 20_000 });
  expect(openStreams).toBe(0); // it came over the socket

  const securityMail = page.getByRole("checkbox", { name: /^Security .*: By e-mail \(always on\)$/ });
  await expect(securityMail).toBeChecked();
  await expect(securityMail).toBeDisabled();
  const contentMail = page.getByRole("checkbox", { name: /^Content .*: By e-mail$/ });
  await expect(contentMail).not.toBeChecked();
  await contentMail.check();
  await expect(page.getByText("Preferences saved")).toBeVisible();
  await expectAccessible(page);

  await bell.click();
  await expect(page).toHaveURL(/\/notifications$/);
  const keyItem = page.getByTestId("notification").filter({ has: page.getByRole("heading", { name: /New API key 'deploy bot'/ }) });
  await expect(keyItem).toContainText("Security");
  await keyItem.getByRole("button", { name: /^Delete/ }).click();
  await expect(keyItem).toHaveCount(0);
  await expect(bell).toHaveAccessibleName("Notifications, 1 unread");

  await page.reload();
  await page.getByRole("link", { name: "Settings" }).click();
  await expect(page.getByRole("checkbox", { name: /^Content .*: By e-mail$/ })).toBeChecked();
});
