import { expect, test } from "@playwright/test";
import { ADMIN, captureScreens, expectAccessible, register, signIn, watchErrors } from "./helpers";

test("sign in, sign out, and a reload keeps the session (refresh cookie)", async ({ page, context }) => {
  const errors = watchErrors(page);
  await page.goto("/signin");
  await expectAccessible(page);
  await captureScreens(page, "signin");
  const email = await register(page, "ada");
  await page.reload();
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
  const cookies = await context.cookies();
  const refresh = cookies.find((c) => c.name === "parley_refresh");
  expect(refresh?.httpOnly).toBe(true);
  expect(refresh?.sameSite).toBe("Strict");
  expect(refresh?.path).toBe("/api/v1/auth/session");
  // The access token is in memory only: nothing in storage.
  expect(await page.evaluate(() => JSON.stringify(localStorage).includes("eyJ"))).toBe(false);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.goto("/chat");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("wrong-password-000");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
  await signIn(page, email);
  expect(errors).toEqual([]);
});

test("knowledge: write and publish an article, then find it", async ({ page }) => {
  await register(page, "writer");
  await page.getByRole("link", { name: "Knowledge" }).click();
  await expectAccessible(page);
  await page.getByRole("link", { name: "New article" }).click();
  await page.getByLabel("Title").fill("Zebra migration notes");
  await page.getByLabel("Tags (comma separated)").fill("wildlife, notes");
  await page.getByLabel("Body (Markdown)").fill("# Herds\n\nThe **zebras** cross the Mara river in July.");
  await expect(page.getByRole("region", { name: "Preview" }).locator("strong")).toHaveText("zebras");
  await expectAccessible(page);
  await captureScreens(page, "editor");
  await page.getByRole("button", { name: "Publish" }).click();
  await expect(page.getByRole("status")).toHaveText("Published");
  await expect(page).toHaveURL(/\/knowledge\/articles\/[0-9a-f-]{36}$/);
  await page.getByRole("button", { name: "Summarize" }).click();
  await expect(page.getByRole("region", { name: "Summary" })).toBeVisible({ timeout: 20_000 });

  await page.getByRole("link", { name: "Knowledge" }).click();
  await page.getByLabel("Status").selectOption("published");
  await expect(page.getByRole("link", { name: "Zebra migration notes" })).toBeVisible();
  await page.getByLabel("Status").selectOption("draft");
  await expect(page.getByRole("link", { name: "Zebra migration notes" })).toHaveCount(0);
  await page.getByRole("tab", { name: "Search everything" }).click();
  await page.getByRole("searchbox", { name: "Words" }).fill("zebras Mara");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByRole("link", { name: "Zebra migration notes" })).toBeVisible({ timeout: 15_000 });
  await expect(page.locator("mark").first()).toBeVisible();
  await expectAccessible(page);
  await captureScreens(page, "knowledge");

  // A grounded reply lists the passages it was given.
  await page.getByRole("link", { name: "Chat" }).click();
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill("When do zebras cross the Mara?");
  await box.press("Enter");
  await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  await expect(page.locator("article.bubble.assistant[data-streaming]")).toHaveCount(0, { timeout: 20_000 });
  await page.getByLabel("Use my knowledge").click();
  await expect(page.getByLabel("Use my knowledge")).toBeChecked();
  await box.fill("When do zebras cross the Mara river?");
  await box.press("Enter");
  await expect(page.locator("article.bubble.assistant")).toHaveCount(2, { timeout: 20_000 });
  const grounded = page.locator("article.bubble.assistant").last();
  await expect(grounded.getByText(/cited passages/)).toBeVisible({ timeout: 20_000 });
  await grounded.getByText(/cited passages/).click();
  await expect(grounded.getByText("Zebra migration notes")).toBeVisible();

  await page.getByRole("link", { name: "Knowledge" }).click();
  await page.getByRole("tab", { name: "Paragraphs" }).click();
  await page.getByRole("button", { name: "Fetch a paragraph" }).click();
  await expect(page.locator("blockquote")).toBeVisible({ timeout: 15_000 });
  await page.getByRole("button", { name: "Show the dictionary" }).click();
  await expect(page.locator(".dictionary dt").first()).toBeVisible();
  await expectAccessible(page);
});

test("settings: an API key is shown once, works, and is revoked", async ({ page, request }) => {
  await register(page, "keeper");
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByLabel("Key name").fill("laptop script");
  await page.getByRole("button", { name: "Create key" }).click();
  const key = (await page.getByTestId("new-api-key").textContent()) ?? "";
  expect(key).toMatch(/^pk_/);
  const me = await request.get("/api/v1/users/me", { headers: { Authorization: `Bearer ${key}` } });
  expect(me.status()).toBe(200);
  await expect(page.getByRole("cell", { name: "laptop script" })).toBeVisible();
  await expectAccessible(page);
  await captureScreens(page, "settings");
  await page.reload();
  await expect(page.getByTestId("new-api-key")).toHaveCount(0); // shown once
  await page.getByRole("button", { name: "Revoke" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Revoke" }).click();
  await expect(page.getByRole("cell", { name: "laptop script" })).toHaveCount(0);
  expect((await request.get("/api/v1/users/me", { headers: { Authorization: `Bearer ${key}` } })).status()).toBe(401);
});

test("usage: budget bar and per-model table", async ({ page }) => {
  await register(page, "counter");
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill("count my tokens");
  await box.press("Enter");
  await expect(page.locator("article.bubble.assistant").last()).not.toHaveAttribute("data-streaming", "true", { timeout: 20_000 });
  await page.getByRole("link", { name: "Usage" }).click();
  await expect(page.getByRole("progressbar", { name: "Budget spent" })).toBeVisible();
  await expect(page.getByRole("cell", { name: "offline/echo" })).toBeVisible({ timeout: 15_000 });
  await expect(page.locator(".chart svg").first()).toBeVisible();
  await expectAccessible(page);
  await captureScreens(page, "usage");
});

test("admin: an admin changes a user's tier; members cannot see the admin page", async ({ page }) => {
  const email = await register(page, "member");
  await page.goto("/admin/users");
  await expect(page.getByText("This page is for staff with the users:manage permission.")).toBeVisible();
  await page.getByRole("button", { name: "Sign out" }).click();
  await signIn(page, ADMIN.email, ADMIN.password);
  await page.getByRole("link", { name: "Admin" }).click();
  await page.getByRole("searchbox", { name: "Search users" }).fill(email);
  const tier = page.getByRole("combobox", { name: `Tier of ${email}` });
  await expect(tier).toHaveValue("free");
  await tier.selectOption("pro");
  await page.reload();
  await page.getByRole("searchbox", { name: "Search users" }).fill(email);
  await expect(page.getByRole("combobox", { name: `Tier of ${email}` })).toHaveValue("pro");
  await expectAccessible(page);
  await page.getByRole("searchbox", { name: "Search users" }).fill("");
  await captureScreens(page, "admin-users");
});

test("the API documentation loads from Parley itself under the app's CSP", async ({ page }) => {
  const errors = watchErrors(page);
  const outside: string[] = [];
  page.on("request", (r) => {
    if (!r.url().startsWith("http://127.0.0.1") && !r.url().startsWith("data:")) outside.push(r.url());
  });
  await page.goto("/schema/swagger");
  await expect(page.getByText("Parley API").first()).toBeVisible({ timeout: 20_000 });
  await expect(page.locator(".opblock").first()).toBeVisible();
  await page.goto("/schema/scalar");
  await expect(page.getByText("Parley API").first()).toBeVisible({ timeout: 20_000 });
  expect(outside).toEqual([]);
  expect(errors).toEqual([]);
});

test("phone width: the menu folds and the chat still works", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 780 });
  await register(page, "phone");
  await page.getByRole("button", { name: "Menu" }).click();
  await expect(page.getByRole("link", { name: "Knowledge" })).toBeVisible();
  await page.getByRole("button", { name: "Menu" }).click();
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill("small screen");
  await box.press("Enter");
  await expect(page.locator("article.bubble.assistant").last()).toContainText("small screen", { timeout: 20_000 });
  await expectAccessible(page);
});
