// Every screen at a phone's 390×844 (touch, mobile viewport) in headless Debian Chromium against
// `eccs-local serve --memory --demo`: the login and its code step, activation, the top page, each
// page of the user menu (the new password, sign-in and two-step pages too), the applications and
// their history, and the help desk's import, lookup and runs. Each is screenshot to
// test-output/screens/phone-*.png and checked for what reads badly on a phone: nothing wider than
// the screen, no control cut off at the right edge, the page's own content near the top.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, confirmOk, env, setClock, shot, tokenOf } from "./harness.mjs";
import { totp } from "./totp.mjs";

const BULK = "Demo-Bulk-Pass";
const op = ["0000000009", "Demo-Operator-9"];

/** A fresh phone-sized browser context on a page of the UI, not logged in. */
async function phonePage(hash = "#/login") {
  const context = await env.browser.newContext({
    locale: "ja-JP", timezoneId: "Asia/Tokyo", viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, acceptDownloads: true,
  });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  page.on("console", (m) => m.type() === "error" && !/status of 40[01]/.test(m.text()) && errors.push(m.text()));
  page.errors = errors;
  await page.goto(`${env.base}/${hash}`);
  return page;
}

async function phoneLogin(account, password, realm = "utokyo") {
  const page = await phonePage();
  if (realm === "workshop") await page.getByLabel("講習会アカウント").check();
  await page.getByLabel("アカウント", { exact: true }).fill(account);
  await page.getByLabel("パスワード", { exact: true }).fill(password);
  await page.getByRole("button", { name: "ログイン" }).click();
  await page.waitForURL(/#\/(menu|workshop)/);
  return page;
}

const go = (page, hash) => page.evaluate((h) => (location.hash = h), hash);

/**
 * What reads badly on a phone: the page wider than the screen, or a control (button, field, link
 * styled as a button) reaching past its right edge. A table may be wider only inside its own
 * sideways-scrolling box.
 */
async function fits(page, name) {
  const found = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const overflow = document.documentElement.scrollWidth - width;
    const inScroller = (node) => node.closest(".scroll-x, .scroll");
    const cut = [...document.querySelectorAll("button, input, select, textarea, a.button, img, code, h2, h3, p, dd, li")]
      .filter((n) => n.offsetParent !== null && !inScroller(n))
      .filter((n) => n.getBoundingClientRect().right > width + 1)
      .map((n) => `${n.tagName.toLowerCase()}${n.id ? `#${n.id}` : ""} "${(n.innerText || n.value || "").slice(0, 30)}"`);
    return { overflow, cut };
  });
  assert.ok(found.overflow <= 0, `${name}: nothing wider than a phone (${found.overflow}px too wide)`);
  assert.deepEqual(found.cut, [], `${name}: cut off at the right edge`);
  await shot(page, `phone-${name}`);
}

/** The page's heading is on the first screen: the menu does not push the content out of sight. */
async function headingInView(page, name) {
  const box = await page.locator("#view h2").first().boundingBox();
  assert.ok(box && box.y < 844, `${name}: the page's heading on the first screen (at ${box?.y}px)`);
}

describe("phone: every screen at 390×844", () => {
  test("phone: login, activation, the forgotten password and the two-step code step", async () => {
    const page = await phonePage("#/login");
    await page.getByRole("button", { name: "ログイン" }).waitFor();
    await fits(page, "login");
    await page.getByRole("button", { name: "English" }).click();
    await page.getByRole("button", { name: "Log in" }).waitFor();
    await fits(page, "login-en");
    const activate = await phonePage("#/activate");
    await activate.getByRole("button", { name: "有効化する" }).waitFor();
    await fits(activate, "activate");
    // R-CRED-4: the forgotten password, and the reset page without a grant.
    const forgot = await phonePage("#/forgot");
    await forgot.getByRole("button", { name: "本人確認サービスへ進む" }).waitFor();
    await fits(forgot, "forgot");
    const reset = await phonePage("#/password-reset");
    await reset.locator("#reset-error").waitFor();
    await fits(reset, "password-reset-no-grant");
    // The code step, for an account with a second factor.
    const account = "1000000131";
    const now = Math.ceil(Date.now() / 30e3) * 30e3 + 2e3;
    await setClock(new Date(now).toISOString());
    try {
      const token = await tokenOf(account, BULK);
      const started = await api("POST", "/api/account/totp", { current_password: BULK }, token);
      await api("POST", "/api/account/totp/confirm", { code: totp(started.secret, now) }, token);
      const code = await phonePage("#/login");
      await code.getByLabel("アカウント", { exact: true }).fill(account);
      await code.getByLabel("パスワード", { exact: true }).fill(BULK);
      await code.getByRole("button", { name: "ログイン" }).click();
      await code.locator("#sf-code").waitFor();
      await fits(code, "login-code-step");
      await setClock(new Date(now + 30e3).toISOString());
      await code.getByLabel("確認コード", { exact: true }).fill(totp(started.secret, now + 30e3));
      await code.getByRole("button", { name: "確認", exact: true }).click();
      await code.waitForURL(/#\/menu$/);
      await fits(code, "top-after-code");
    } finally {
      await setClock(null);
    }
    assert.deepEqual(page.errors, []);
  });

  test("phone: the top page and every page of the user menu, the new ones too", async () => {
    const page = await phoneLogin("1000000130", BULK);
    await page.getByRole("heading", { name: /学生 一括/ }).waitFor();
    await fits(page, "top");
    for (const [hash, ready, name] of [
      ["#/remote-access", () => page.getByLabel("利用する", { exact: true }), "remote-access"],
      ["#/cloud-mail", () => page.getByLabel("メールアドレス", { exact: true }), "cloud-mail-address"],
      ["#/cloud-mail-password", () => page.getByLabel("新しいパスワード", { exact: true }), "cloud-mail-password"],
      ["#/cloud-mail-forwarding", () => page.getByLabel("転送先メールアドレス", { exact: true }), "forwarding"],
      ["#/conferencing", () => page.locator("#conf-state"), "conferencing"],
      ["#/identity-link", () => page.locator("#idl-state"), "identity-link"],
      ["#/account-password", () => page.getByLabel("新しいパスワード（確認）", { exact: true }), "account-password"],
      ["#/sign-ins", () => page.locator("#sign-ins"), "sign-ins"],
      ["#/two-step", () => page.locator("#two-step-state"), "two-step-off"],
      ["#/history", () => page.getByRole("heading", { name: "申請履歴" }), "history-empty"],
    ]) {
      await go(page, hash);
      await ready().waitFor();
      await headingInView(page, name);
      await fits(page, name);
    }
    // The cloud-mail page with a pending change and its 取り消す; the dialog on a phone.
    await go(page, "#/cloud-mail");
    await page.getByLabel("メールアドレス", { exact: true }).fill("phone.person");
    await page.getByRole("button", { name: "保存" }).click();
    await page.getByRole("dialog").waitFor();
    await fits(page, "confirm-dialog");
    await page.getByRole("dialog").getByRole("button", { name: "OK" }).click();
    await page.locator("#cma-pending").waitFor();
    await fits(page, "cloud-mail-address-pending");
    // Two-step: the QR code and key, then the recovery codes, then the enrolled state.
    const now = Math.ceil(Date.now() / 30e3) * 30e3 + 2e3;
    await setClock(new Date(now).toISOString());
    try {
      await go(page, "#/two-step");
      await page.getByLabel("現在のパスワード", { exact: true }).fill(BULK);
      await page.getByRole("button", { name: "設定を始める" }).click();
      await page.locator("#totp-qr").waitFor();
      await fits(page, "two-step-enrol");
      const secret = (await page.locator("#totp-secret").innerText()).replaceAll(" ", "");
      await page.getByLabel("確認コード", { exact: true }).fill(totp(secret, now));
      await page.getByRole("button", { name: "有効にする" }).click();
      await confirmOk(page);
      await page.locator("#recovery-codes").waitFor();
      await fits(page, "two-step-recovery-codes");
      await page.getByRole("button", { name: "保存しました" }).click();
      await confirmOk(page);
      await page.locator("#totp-remove").waitFor();
      await fits(page, "two-step-on");
    } finally {
      await setClock(null);
    }
    await page.getByRole("button", { name: "English" }).click();
    await page.getByRole("heading", { name: "Turn off two-step verification" }).waitFor();
    await fits(page, "two-step-on-en");
    assert.deepEqual(page.errors, []);
  });

  test("phone: the initial password not changed, an unavailable page, the workshop page", async () => {
    const page = await phoneLogin("0000000002", "Demo-Student-2");
    // The banner under the header, on the first screen above the open menu.
    const banner = await page.locator("#initial-password").boundingBox();
    assert.ok(banner && banner.y < 200, `the initial-password banner first thing (at ${banner?.y}px)`);
    await fits(page, "top-initial-password");
    await go(page, "#/cloud-mail");
    await page.locator("#unavailable-reason").waitFor();
    await headingInView(page, "unavailable");
    await fits(page, "unavailable");
    await go(page, "#/account-password");
    await page.locator("#pw-initial").waitFor();
    assert.equal(await page.locator("#initial-password").count(), 0, "the password page says it itself");
    await fits(page, "account-password-initial");
    const workshop = await phoneLogin("ws0001", "Demo-Workshop-1", "workshop");
    await workshop.getByLabel("新しいパスワード", { exact: true }).waitFor();
    await fits(workshop, "workshop");
  });

  test("phone: the application menu, a scheduled suspension and its history", async () => {
    const usage = await phoneLogin("0000000003", "Demo-Faculty-3");
    await go(usage, "#/apply-usage");
    await usage.getByRole("button", { name: "申請" }).waitFor();
    await fits(usage, "apply-usage");
    const page = await phoneLogin("0000000004", "Demo-Faculty-4");
    const token = await tokenOf("0000000004", "Demo-Faculty-4");
    const day = (n) => new Date(Date.now() + 9 * 3600e3 + n * 24 * 3600e3).toISOString().slice(0, 10);
    await api("POST", "/api/applications", { type: "eccs_suspension", stop_date: day(2) }, token);
    await api("POST", "/api/applications", { type: "eccs_suspension", stop_date: day(3) }, token);
    await go(page, "#/apply-suspension");
    await page.locator("#sus-scheduled").waitFor();
    await fits(page, "apply-suspension-scheduled");
    await go(page, "#/history");
    await page.locator("#history").getByRole("button", { name: "取り下げる" }).waitFor();
    await fits(page, "history");
    const proxy = await phoneLogin("0000000005", "Demo-Staff-5");
    await go(proxy, "#/apply-proxy");
    await proxy.getByLabel("対象者の UTokyo Account", { exact: true }).fill("0000000006");
    await proxy.getByRole("button", { name: "対象者検索" }).click();
    await proxy.getByText("白金 四郎").waitFor();
    await fits(proxy, "apply-proxy-found");
  });

  test("phone: the help desk's settings, import, lookup (sign-ins, second factor) and runs", async () => {
    const page = await phoneLogin(...op);
    await go(page, "#/settings");
    await page.getByLabel("上限", { exact: true }).waitFor();
    await fits(page, "settings");
    await go(page, "#/admin-import");
    await page.getByLabel("ファイル（JSONL または CSV）").waitFor();
    await fits(page, "import");
    const csv = "id,kind,name_ja,name_en,department_code,department_ja,department_en,valid_from,valid_until\n2600000001,student,携帯 花子,Hanako Keitai,D03,理学部,Faculty of Science,2026-04-01,2030-03-31\n";
    await page.getByLabel("ファイル（JSONL または CSV）").setInputFiles({ name: "phone.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
    await page.getByRole("button", { name: "取り込む" }).click();
    await confirmOk(page);
    await page.locator("#keys").waitFor();
    await fits(page, "import-done");
    // A lookup with sign-ins (a wrong password, a lockout elsewhere) and a second factor to remove.
    const account = "1000000132";
    await api("POST", "/api/session", { realm: "utokyo", account, password: "Wrong-Pass-1" });
    const now = Math.ceil(Date.now() / 30e3) * 30e3 + 2e3;
    await setClock(new Date(now).toISOString());
    try {
      const token = await tokenOf(account, BULK);
      const started = await api("POST", "/api/account/totp", { current_password: BULK }, token);
      await api("POST", "/api/account/totp/confirm", { code: totp(started.secret, now) }, token);
    } finally {
      await setClock(null);
    }
    await go(page, `#/admin-accounts/${account}`);
    await page.locator("#desk-totp").waitFor();
    await fits(page, "lookup");
    await go(page, "#/admin-runs");
    await page.getByRole("heading", { name: "定期処理の実行履歴" }).waitFor();
    await fits(page, "runs");
    assert.deepEqual(page.errors, []);
  });
});
