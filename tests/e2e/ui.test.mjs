// End-to-end tests of the UI in headless Debian Chromium (playwright-core, no downloaded
// browser) against `eccs-local serve --memory --demo`: every flow of the manual for the demo
// accounts, one error path each, the language switch, session expiry, and a screenshot of every
// screen in test-output/screens/.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, confirmOk, env, login, messageText, nextMinuteZero, setClock, shot } from "./harness.mjs";

describe("login", () => {
  test("the login page is bilingual and a wrong password gets the manual's message", async () => {
    const context = await env.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${env.base}/`);
    assert.equal(await page.getAttribute("html", "lang"), "ja");
    await shot(page, "login-ja");
    await page.getByLabel("アカウント", { exact: true }).fill("0000000001");
    await page.getByLabel("パスワード", { exact: true }).fill("wrong-password");
    await page.getByRole("button", { name: "ログイン" }).click();
    assert.match(await messageText(page), /アカウントもしくはパスワードに誤りがあります/);
    assert.equal(await page.evaluate(() => document.activeElement.id), "messages", "focus moves to the message");
    await page.getByRole("button", { name: "English" }).click();
    assert.equal(await page.getAttribute("html", "lang"), "en");
    await page.getByRole("button", { name: "Log in" }).waitFor();
    await shot(page, "login-en");
    assert.equal(await page.evaluate(() => localStorage.length), 0, "nothing in localStorage");
    await context.close();
  });
});

describe("user menu", () => {
  test("the top page lists the menus, unavailable ones with their reason", async () => {
    const page = await login("0000000001", "Demo-Student-1");
    await page.getByRole("heading", { name: /東大 太郎/ }).waitFor();
    const nav = await page.locator("nav").innerText();
    assert.match(nav, /リモートアクセス環境 利用申請/);
    // The application menu is for faculty and staff (R-MENU-3): a student does not see it at all.
    assert.doesNotMatch(nav, /ECCS申請メニュー/);
    const faculty = await login("0000000004", "Demo-Faculty-4");
    assert.match(await faculty.locator("nav").innerText(), /ECCS利用申請[\s\S]*既にECCS利用権が有効です/);
    assert.ok(await page.evaluate(() => !!sessionStorage.getItem("token")), "token in sessionStorage");
    await shot(page, "top-student");
    assert.deepEqual(page.errors, []);
  });

  test("remote access: 利用する → 保存 → OK → done; when full, the capacity message", async () => {
    const page = await login("0000000001", "Demo-Student-1");
    await page.getByRole("link", { name: "リモートアクセス環境 利用申請" }).click();
    await page.getByLabel("利用する", { exact: true }).check();
    await shot(page, "remote-access");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /利用申請が完了しました/);
    await shot(page, "remote-access-done");
    // Full: the operator sets the capacity to the users there are.
    const op = (await api("POST", "/api/session", { realm: "utokyo", account: "0000000009", password: "Demo-Operator-9" })).token;
    await api("PUT", "/api/admin/settings", { remote_access_capacity: 1 }, op);
    const other = await login("0000000004", "Demo-Faculty-4");
    await other.getByRole("link", { name: "リモートアクセス環境 利用申請" }).click();
    await other.getByLabel("利用する", { exact: true }).check();
    await other.getByRole("button", { name: "保存" }).click();
    await confirmOk(other);
    assert.match(await messageText(other), /上限に達している/);
    await shot(other, "remote-access-full");
    await api("PUT", "/api/admin/settings", { remote_access_capacity: 1000 }, op);
  });

  test("cloud-mail address: pending with when it takes effect; a second change within 30 days is refused", async () => {
    const page = await login("1000000001", "Demo-Bulk-Pass");
    await page.getByRole("link", { name: "ECCS クラウドメール", exact: true }).click();
    await page.getByLabel("メールアドレス", { exact: true }).fill("bulk.student");
    await shot(page, "cloud-mail-address");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    const done = await messageText(page);
    assert.match(done, new RegExp(`毎時0分に反映されます（${nextMinuteZero()} に反映されます）`));
    assert.match(await page.locator("#view").innerText(), /bulk\.student@g\.ecc\.u-tokyo\.ac\.jp に変更予定です/);
    await shot(page, "cloud-mail-address-pending");
    // Until minute 0 the pending change can be replaced (a typo fixed, R-CMA-3).
    await page.getByLabel("メールアドレス", { exact: true }).fill("bulk.again");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /bulk\.again@g\.ecc\.u-tokyo\.ac\.jp への変更は毎時0分に反映されます/);
    await page.locator("#view").filter({ hasText: /bulk\.again@g\.ecc\.u-tokyo\.ac\.jp に変更予定です/ }).waitFor();
    // The hourly sync at the next minute 0 applies it; another change within 30 days is refused.
    const minuteZero = new Date(Math.ceil((Date.now() + 1) / 3600e3) * 3600e3 + 60e3);
    await setClock(minuteZero.toISOString());
    try {
      await api("POST", "/_local/run/sync-hourly");
    } finally {
      await setClock(null);
    }
    await page.reload();
    await page.locator("#current-address").filter({ hasText: "bulk.again@g.ecc.u-tokyo.ac.jp" }).waitFor();
    await page.getByLabel("メールアドレス", { exact: true }).fill("bulk.third");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /30日間/);
    await shot(page, "cloud-mail-address-too-soon");
  });

  test("cloud-mail address: the rule's reasons are listed", async () => {
    const page = await login("1000000002", "Demo-Bulk-Pass");
    await page.getByRole("link", { name: "ECCS クラウドメール", exact: true }).click();
    // What the page can check is said before the confirmation.
    await page.getByLabel("メールアドレス", { exact: true }).fill("1234567");
    await page.getByRole("button", { name: "保存" }).click();
    assert.match(await messageText(page), /数字だけのアドレスは使えません/);
    assert.equal(await page.getByRole("dialog").isVisible(), false);
    // The server's own reasons come after OK.
    await page.getByLabel("メールアドレス", { exact: true }).fill("eccs-help");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /予約されている名前です/);
  });

  test("cloud-mail password: every broken rule listed, then a good one accepted", async () => {
    const page = await login("0000000001", "Demo-Student-1");
    await page.getByRole("link", { name: "ECCS クラウドメール（パスワード変更）" }).click();
    await page.getByLabel("現在のパスワード", { exact: true }).fill("Demo-Student-1");
    await page.getByLabel("新しいパスワード", { exact: true }).fill("todai");
    await page.getByLabel("新しいパスワード（確認）", { exact: true }).fill("todai");
    await page.getByRole("button", { name: "保存" }).click();
    // The form of the password is checked before the confirmation...
    const text = await messageText(page);
    for (const rule of ["8文字以上", "英大文字", "数字を1文字以上"]) assert.match(text, new RegExp(rule));
    assert.equal(await page.getByRole("dialog").isVisible(), false);
    // ...the personal data by the server, after OK.
    await page.getByLabel("新しいパスワード", { exact: true }).fill("Todai-Kx7#mQ2v");
    await page.getByLabel("新しいパスワード（確認）", { exact: true }).fill("Todai-Kx7#mQ2v");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /氏名を含めないでください/);
    await shot(page, "cloud-mail-password-policy");
    await page.getByLabel("新しいパスワード", { exact: true }).fill("Demo-Student-1");
    await page.getByLabel("新しいパスワード（確認）", { exact: true }).fill("Demo-Student-1");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /UTokyo Account のパスワードと同じ値は使えません/);
    await page.getByLabel("新しいパスワード", { exact: true }).fill("Kx7#mQ2v-Rt9");
    await page.getByLabel("新しいパスワード（確認）", { exact: true }).fill("Kx7#mQ2v-Rt9");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /毎時0分に反映されます/);
    await shot(page, "cloud-mail-password-done");
  });

  test("cloud-mail password: a wrong current password is an answer on the form, not a logout", async () => {
    const page = await login("1000000003", "Demo-Bulk-Pass");
    await page.getByRole("link", { name: "ECCS クラウドメール（パスワード変更）" }).click();
    const current = page.getByLabel("現在のパスワード", { exact: true });
    assert.equal(await current.getAttribute("type"), "password");
    assert.equal(await current.getAttribute("autocomplete"), "current-password");
    assert.ok(await current.evaluate((i) => i.required), "the current password is required");
    await current.fill("Wrong-Pass-77");
    await page.getByLabel("新しいパスワード", { exact: true }).fill("Kx7#mQ2v-Rt9");
    await page.getByLabel("新しいパスワード（確認）", { exact: true }).fill("Kx7#mQ2v-Rt9");
    const sent = page.waitForRequest((r) => r.url().endsWith("/api/cloud-mail/password") && r.method() === "PUT");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.deepEqual((await sent).postDataJSON(), { password: "Kx7#mQ2v-Rt9", current_password: "Wrong-Pass-77" });
    assert.match(await messageText(page), /現在のパスワードに誤りがあります/);
    // Still logged in, on the same page, with the menu: a wrong current password ends nothing.
    assert.match(page.url(), /#\/cloud-mail-password$/);
    assert.ok(await page.locator("nav").isVisible(), "the menu is still there");
    assert.ok(await page.getByRole("button", { name: "ログアウト" }).isVisible());
    assert.ok(await page.evaluate(() => !!sessionStorage.getItem("token")), "the token is kept");
    assert.equal(await page.getByRole("button", { name: "ログイン" }).count(), 0, "no return to the login");
    await shot(page, "cloud-mail-password-wrong-current");
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, "cloud-mail-password-wrong-current-phone");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `nothing wider than a phone (${overflow}px too wide)`);
    await page.setViewportSize({ width: 1280, height: 720 });
    await current.fill("Demo-Bulk-Pass");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /毎時0分に反映されます/);
    for (const label of ["現在のパスワード", "新しいパスワード", "新しいパスワード（確認）"]) {
      assert.equal(await page.getByLabel(label, { exact: true }).inputValue(), "", `${label} is cleared`);
    }
    await page.getByRole("button", { name: "English" }).click();
    await page.getByLabel("Current password", { exact: true }).waitFor();
    await shot(page, "cloud-mail-password-en");
    assert.deepEqual(page.errors.filter((e) => !String(e).includes("status of 401")), []);
  });

  test("a change the mail system refused shows our sentence for its code, never the system's text", async () => {
    const page = await login("1000000004", "Demo-Bulk-Pass");
    // The local mail system never refuses, so the answer is the real one with the retrying state
    // of R-SEC-5 put in (the shape the sync leaves after a refusal).
    await page.route("**/api/cloud-mail/address", async (route) => {
      const response = await route.fetch();
      const json = await response.json();
      const error = { code: "mail_system_refused", message: "サーバーの文 / the server's sentence" };
      json.pending_password = { effective_at: new Date(Date.now() + 3600e3).toISOString(), state: "retrying", attempts: 2, error };
      await route.fulfill({ response, json });
    });
    await page.getByRole("link", { name: "ECCS クラウドメール（パスワード変更）" }).click();
    const hint = page.locator("p.retrying");
    await hint.waitFor();
    assert.equal(await hint.innerText(), "メールシステムが変更を受け付けませんでした。次の毎時0分に再試行します（試行 2 回）");
    await page.getByRole("button", { name: "English" }).click();
    await page.locator("p.retrying").filter({ hasText: "attempt" }).waitFor();
    assert.match(await page.locator("p.retrying").innerText(), /^The mail system did not accept the change; it is retried at the next minute 0 \(2 attempt/);
    await shot(page, "cloud-mail-password-retrying-en");
  });

  test("the initial password not changed: cloud mail is shown unavailable with the reason", async () => {
    const page = await login("0000000002", "Demo-Student-2");
    assert.match(await page.locator("nav").innerText(), /初期パスワードを変更してから利用してください/);
    assert.equal(await page.getByRole("link", { name: "ECCS クラウドメール", exact: true }).count(), 0);
    await shot(page, "top-initial-password");
  });
});

describe("application menu", () => {
  test("usage: 申請 → OK → done at once; the menu then shows the right as valid", async () => {
    const page = await login("0000000003", "Demo-Faculty-3");
    await page.getByRole("link", { name: "ECCS利用申請", exact: true }).click();
    await shot(page, "apply-usage");
    await page.getByRole("button", { name: "申請" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /申請内容は即時反映されます/);
    assert.match(await page.locator("nav").innerText(), /既にECCS利用権が有効です/);
    await shot(page, "apply-usage-done");
  });

  test("suspension: a past date is refused; a stop date is accepted with its effective day", async () => {
    const page = await login("0000000004", "Demo-Faculty-4");
    await page.getByRole("link", { name: "ECCS利用停止申請" }).click();
    await page.getByLabel("ECCS停止希望日", { exact: true }).fill("2000-01-01");
    await page.getByRole("button", { name: "申請" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /停止希望日は本日以降/);
    const tomorrow = new Date(Date.now() + 9 * 3600e3 + 24 * 3600e3).toISOString().slice(0, 10);
    await page.getByLabel("ECCS停止希望日", { exact: true }).fill(tomorrow);
    await shot(page, "apply-suspension");
    await page.getByRole("button", { name: "申請" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), new RegExp(`${tomorrow.replaceAll("-", "/")} に無効化されます`));
    await shot(page, "apply-suspension-done");
  });

  test("proxy: out of scope is not found; a target in scope is shown and applied for", async () => {
    const page = await login("0000000005", "Demo-Staff-5");
    await page.getByRole("link", { name: "ECCS利用申請（代理）" }).click();
    await page.getByLabel("対象者の UTokyo Account", { exact: true }).fill("0000000007");
    await page.getByRole("button", { name: "対象者検索" }).click();
    assert.match(await messageText(page), /対象者が存在しないか/);
    await shot(page, "apply-proxy-not-found");
    await page.getByLabel("対象者の UTokyo Account", { exact: true }).fill("0000000006");
    await page.getByRole("button", { name: "対象者検索" }).click();
    await page.getByText("白金 四郎").waitFor();
    await shot(page, "apply-proxy-found");
    await page.locator("#target-found").getByRole("button", { name: "申請" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /申請が完了しました/);
    await page.getByRole("link", { name: "申請履歴" }).click();
    await page.getByRole("table").waitFor();
    assert.match(await page.locator("table").innerText(), /ECCS利用申請（代理）\s+0000000005\s+0000000006/);
    await shot(page, "history");
  });
});

describe("workshop and operator", () => {
  test("workshop: only the password page; a weak password refused, a good one changed at once", async () => {
    const page = await login("ws0001", "Demo-Workshop-1", "workshop");
    assert.match(page.url(), /#\/workshop/);
    // The current password comes first (R-SEC-1): a wrong one is said on the form.
    await page.getByLabel("現在のパスワード", { exact: true }).fill("Not-The-Password-1");
    await page.getByLabel("新しいパスワード", { exact: true }).fill("Lq8#vN3z-Wp5");
    await page.getByLabel("新しいパスワード（確認）", { exact: true }).fill("Lq8#vN3z-Wp5");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /現在のパスワードに誤りがあります/);
    assert.match(page.url(), /#\/workshop/);
    await page.getByLabel("現在のパスワード", { exact: true }).fill("Demo-Workshop-1");
    await page.getByLabel("新しいパスワード", { exact: true }).fill("Ws0001-Lq8#vN");
    await page.getByLabel("新しいパスワード（確認）", { exact: true }).fill("Ws0001-Lq8#vN");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /アカウント名を含めないでください/);
    await page.getByLabel("新しいパスワード", { exact: true }).fill("Lq8#vN3z-Wp5");
    await page.getByLabel("新しいパスワード（確認）", { exact: true }).fill("Lq8#vN3z-Wp5");
    await shot(page, "workshop");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /パスワード変更が完了しました/);
    assert.equal(await page.getByLabel("現在のパスワード", { exact: true }).inputValue(), "", "cleared after the change");
    const again = await api("POST", "/api/session", { realm: "workshop", account: "ws0001", password: "Lq8#vN3z-Wp5" });
    assert.ok(again.token, "the new password works at once");
  });

  test("operator: the capacity setting", async () => {
    const page = await login("0000000009", "Demo-Operator-9");
    await page.getByRole("link", { name: "リモートアクセス環境の上限" }).click();
    await page.getByLabel("上限", { exact: true }).fill("800");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /保存しました/);
    await shot(page, "settings");
    await api("PUT", "/api/admin/settings", { remote_access_capacity: 1000 }, (await api("POST", "/api/session", { realm: "utokyo", account: "0000000009", password: "Demo-Operator-9" })).token);
  });
});

describe("language and session", () => {
  test("the English switch translates the menus and keeps the page", async () => {
    const page = await login("0000000005", "Demo-Staff-5");
    await page.getByRole("button", { name: "English" }).click();
    assert.equal(await page.getAttribute("html", "lang"), "en");
    await page.getByRole("link", { name: "Remote-access environment" }).click();
    await page.getByLabel("Use", { exact: true }).waitFor();
    await shot(page, "remote-access-en");
    await page.getByRole("button", { name: "日本語" }).click();
    await page.getByLabel("利用する", { exact: true }).waitFor();
  });

  test("an expired session says so and returns to the login", async () => {
    const page = await login("0000000001", "Demo-Student-1");
    const later = new Date(Date.now() + 31 * 60e3).toISOString();
    await setClock(later);
    try {
      await page.getByRole("link", { name: "リモートアクセス環境 利用申請" }).click();
      assert.match(await messageText(page), /セッションの有効期限が切れました/);
      await page.getByRole("button", { name: "ログイン" }).waitFor();
      await shot(page, "session-expired");
      assert.equal(await page.evaluate(() => sessionStorage.getItem("token")), null);
    } finally {
      await setClock(null);
    }
  });

  test("logout forgets the token", async () => {
    const page = await login("0000000004", "Demo-Faculty-4");
    await page.getByRole("button", { name: "ログアウト" }).click();
    assert.match(await messageText(page), /ログアウトしました/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem("token")), null);
  });

  test("the UI is served with a strict CSP and security headers", async () => {
    const r = await fetch(`${env.base}/`);
    assert.match(r.headers.get("content-security-policy"), /default-src 'none'; script-src 'self'/);
    assert.equal(r.headers.get("x-frame-options"), "DENY");
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
  });
});
