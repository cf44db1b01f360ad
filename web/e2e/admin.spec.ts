// The admin console and the profile pages against a real server: a member reports a reply and an
// article, staff resolve them in the queue, the audit log records it, analytics and system status show
// what happened; a profile gets a bio and an avatar (shown in the header), a bad picture is refused.
import { expect, test, type Page } from "@playwright/test";
import { crc32, deflateSync } from "node:zlib";
import { ADMIN, captureScreens, expectAccessible, register, signIn, watchErrors } from "./helpers";

/** A size x size RGB PNG with a diagonal gradient (so the avatar in the screenshots is a picture). */
function gradientPng(size = 96): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  const rows = Buffer.alloc(size * (1 + size * 3));
  for (let y = 0; y < size; y++) {
    const row = y * (1 + size * 3);
    for (let x = 0; x < size; x++) {
      rows.set([Math.round((x / size) * 255), 90, Math.round((y / size) * 255)], row + 1 + x * 3);
    }
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", header), chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}
const PNG = gradientPng();

async function chatOnce(page: Page, text: string): Promise<void> {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
  await expect(page.locator("article.bubble.assistant").last()).not.toHaveAttribute("data-streaming", "true", { timeout: 20_000 });
}

async function signOut(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
}

test("moderation: a member reports a reply; an admin hides it with a note; the audit log records it", async ({ page }) => {
  const errors = watchErrors(page);
  await register(page, "reporter");
  await chatOnce(page, "tell me something rude about zebras");
  await page.getByRole("button", { name: "Report this reply" }).last().click();
  const dialog = page.getByRole("dialog", { name: "Report this reply" });
  await expectAccessible(page);
  await dialog.getByRole("textbox", { name: "Reason" }).fill("It is rude about zebras");
  await dialog.getByRole("button", { name: "Send report" }).click();
  await expect(dialog.getByRole("status")).toHaveText("Thank you: a moderator will look at it.");
  await dialog.getByRole("button", { name: "Close" }).click();
  // The same reply twice: the API says so.
  await page.getByRole("button", { name: "Report this reply" }).last().click();
  await dialog.getByRole("textbox", { name: "Reason" }).fill("again");
  await dialog.getByRole("button", { name: "Send report" }).click();
  await expect(dialog.getByRole("alert")).toBeVisible();
  await page.keyboard.press("Escape");
  await signOut(page);

  await signIn(page, ADMIN.email, ADMIN.password);
  await page.goto("/admin/moderation");
  const item = page.getByTestId("moderation-item").filter({ hasText: "rude about zebras" }).first();
  await expect(item).toContainText("reported by members");
  await expectAccessible(page);
  await captureScreens(page, "admin-moderation");
  await item.getByLabel("Note (optional)").fill("checked: hidden");
  await item.getByRole("button", { name: /^Hide/ }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Hide" }).click();
  await expect(page.getByTestId("moderation-item").filter({ hasText: "rude about zebras" })).toHaveCount(0);
  await page.getByRole("tab", { name: "Resolved" }).click();
  const resolved = page.getByTestId("moderation-item").filter({ hasText: "rude about zebras" }).first();
  await expect(resolved.getByTestId("resolution")).toContainText("Hidden");
  await expect(resolved.getByTestId("resolution")).toContainText("checked: hidden");

  await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Audit log" }).click();
  await expect(page.getByTestId("audit-event").first()).toContainText("moderation.hidden");
  await page.getByLabel("Action").fill("moderation.hidden");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page.getByTestId("audit-event").first()).toContainText("checked: hidden");
  await expectAccessible(page);
  await captureScreens(page, "admin-audit");
  expect(errors).toEqual([]);
});

test("a public article can be reported by another member and shows in the queue as an article", async ({ page }) => {
  await register(page, "author");
  await page.getByRole("link", { name: "Knowledge" }).click();
  await page.getByRole("link", { name: "New article" }).click();
  await page.getByLabel("Title").fill("Okapi field guide");
  await page.getByLabel("Body (Markdown)").fill("Okapis are shy forest giraffids.");
  await page.getByLabel("Visibility").selectOption("public");
  await page.getByRole("button", { name: "Publish" }).click();
  await expect(page.getByRole("status")).toHaveText("Published");
  await signOut(page);

  await register(page, "reader");
  await page.getByRole("link", { name: "Knowledge" }).click();
  await page.getByLabel("Whose").selectOption("everyone");
  await page.getByRole("button", { name: "Report the article “Okapi field guide”" }).click();
  await page.getByRole("dialog").getByRole("textbox", { name: "Reason" }).fill("copied from a book");
  await page.getByRole("dialog").getByRole("button", { name: "Send report" }).click();
  await expect(page.getByRole("dialog").getByRole("status")).toBeVisible();
  await page.keyboard.press("Escape");
  await signOut(page);

  await signIn(page, ADMIN.email, ADMIN.password);
  await page.goto("/admin/moderation");
  await page.getByLabel("Kind").selectOption("article");
  const item = page.getByTestId("moderation-item").filter({ hasText: "Okapi field guide" });
  await expect(item).toHaveCount(1);
  await item.getByRole("button", { name: /^Dismiss/ }).click();
  await expect(item).toHaveCount(0);
});

test("analytics and system status show the platform's usage and health", async ({ page }) => {
  const errors = watchErrors(page);
  await register(page, "spender");
  await chatOnce(page, "count these tokens for the analytics");
  await signOut(page);

  await signIn(page, ADMIN.email, ADMIN.password);
  await page.goto("/admin/analytics");
  await expect(page.getByTestId("usage-row").first()).toBeVisible();
  await expect(page.locator(".chart svg").first()).toBeVisible();
  await page.getByLabel("Group by").selectOption("model");
  await expect(page.getByRole("region", { name: "Usage" }).getByRole("rowheader", { name: "offline/echo" })).toBeVisible();
  await expect(page.getByTestId("spender").filter({ hasText: "spender" }).first()).toBeVisible();
  await expect(page.getByTestId("signups-total")).toContainText("sign-ups in this range");
  await expectAccessible(page);
  await captureScreens(page, "admin-analytics");

  await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "System" }).click();
  await expect(page.getByTestId("instance")).toHaveCount(1);
  await expect(page.getByTestId("instance")).toContainText("(answering)");
  await expect(page.getByTestId("dependency-database")).toContainText("up");
  const checked = await page.getByTestId("checked-at").locator("time").getAttribute("datetime");
  // Refreshed while visible: the check time moves on by itself.
  await expect(page.getByTestId("checked-at").locator("time")).not.toHaveAttribute("datetime", checked!, { timeout: 15_000 });
  await expectAccessible(page);
  await captureScreens(page, "admin-system");
  expect(errors).toEqual([]);
});

test("profile: a bio, an avatar shown in the header, a refused file, then no avatar", async ({ page }) => {
  const errors = watchErrors(page);
  await register(page, "portrait");
  await page.getByRole("link", { name: "Settings" }).click();
  const profile = page.getByRole("region", { name: "Profile" });
  await profile.getByLabel("Bio").fill("I paint okapis.");
  await profile.getByRole("button", { name: "Save" }).click();
  await expect(profile.getByText("Profile saved")).toBeVisible();

  await profile.getByLabel(/Avatar picture/).setInputFiles({ name: "notes.txt", mimeType: "image/png", buffer: Buffer.from("not a picture") });
  await profile.getByRole("button", { name: "Upload avatar" }).click();
  await expect(profile.getByRole("alert")).toContainText("PNG, JPEG or WebP");

  await profile.getByLabel(/Avatar picture/).setInputFiles({ name: "me.png", mimeType: "image/png", buffer: PNG });
  await expect(profile.getByRole("img", { name: "Preview of the new avatar" })).toBeVisible();
  await profile.getByRole("button", { name: "Upload avatar" }).click();
  await expect(profile.getByText("Avatar saved")).toBeVisible();
  const header = page.locator("header img.avatar");
  await expect(header).toHaveAttribute("src", /size=64/);
  expect(await header.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(64);
  await captureScreens(page, "profile");

  await page.reload();
  await expect(page.getByRole("region", { name: "Profile" }).getByLabel("Bio")).toHaveValue("I paint okapis.");
  await page.getByRole("button", { name: "Remove avatar" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Remove" }).click();
  await expect(page.getByText("Avatar removed")).toBeVisible();
  await expect(page.locator("header img.avatar")).toHaveCount(0);
  expect(errors).toEqual([]);
});

test("a moderator reads analytics and works the queue but is refused the audit log", async ({ page }) => {
  const email = await register(page, "mod");
  await signOut(page);
  await signIn(page, ADMIN.email, ADMIN.password);
  await page.goto("/admin/users");
  await page.getByRole("searchbox", { name: "Search users" }).fill(email);
  await page.getByRole("combobox", { name: `Role of ${email}` }).selectOption("moderator");
  await expect(page.getByRole("combobox", { name: `Role of ${email}` })).toHaveValue("moderator");
  await signOut(page);

  await signIn(page, email);
  await page.getByRole("link", { name: "Admin" }).click();
  await expect(page).toHaveURL(/\/admin\/analytics$/);
  const nav = page.getByRole("navigation", { name: "Admin" });
  await expect(nav.getByRole("link")).toHaveText(["Analytics", "Moderation"]);
  await nav.getByRole("link", { name: "Moderation" }).click();
  await expect(page.getByRole("heading", { name: "Moderation queue" })).toBeVisible();
  await page.goto("/admin/audit");
  await expect(page.getByText("This page is for staff with the audit:read permission.")).toBeVisible();
});
