// End-to-end tests of the person's own credentials (R-CRED-1..3) in headless Debian Chromium
// against `eccs-local serve --memory --demo`: the UTokyo Account password change (the current
// password first; every session ends), the sign-in activity, two-step verification (enrolment
// with the QR code and setup key, recovery codes shown once, the login's code step, removal) and
// the help desk's view of sign-ins and its removal after an in-person check. The codes are
// computed from the setup key the page shows (RFC 6238), at times set on the server's clock.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, confirmOk, env, login, messageText, openPage, setClock, shot, tokenOf } from "./harness.mjs";
import { totp } from "./totp.mjs";

const op = ["0000000009", "Demo-Operator-9"];
const BULK = "Demo-Bulk-Pass";
const EDGE_ON_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";

/** Waits until `selector` shows text matching `pattern` (pages draw after their fetches). */
async function shows(page, selector, pattern) {
  await page.locator(selector).filter({ hasText: pattern }).first().waitFor();
  assert.match(await page.locator(selector).first().innerText(), pattern);
}

/** The requests the page sends to `suffix` (with `method`), collected as they go. */
function requestsTo(page, suffix, method) {
  const sent = [];
  page.on("request", (r) => r.url().endsWith(suffix) && r.method() === method && sent.push(r));
  return sent;
}

/** Errors of the page other than the browser's log of a refused (401) request. */
const pageErrors = (page) => page.errors.filter((e) => !/status of 40[01]/.test(String(e)));

/** The server's clock, fixed, moved on in whole TOTP steps so that every code is a fresh one. */
class Clock {
  constructor() {
    // Early in the next step: ahead of the real time (a token issued before it stays valid), and
    // close to it, so that the browser and the server agree on what is due.
    this.now = Math.ceil(Date.now() / 30e3) * 30e3 + 2e3;
  }
  async set() {
    await setClock(new Date(this.now).toISOString());
  }
  async step(ms = 30e3) {
    this.now += ms;
    await this.set();
  }
}

/** A login attempt as a browser would send it, from another browser (its User-Agent). */
async function attempt(account, password, userAgent = EDGE_ON_WINDOWS) {
  const r = await fetch(`${env.base}/api/session`, {
    method: "POST",
    headers: { "content-type": "application/json", "user-agent": userAgent },
    body: JSON.stringify({ realm: "utokyo", account, password }),
  });
  return { status: r.status, body: await r.json() };
}

/** Enrols `account` through the API at the clock's time: its secret and recovery codes. */
async function enrolled(account, clock) {
  const token = await tokenOf(account, BULK);
  const started = await api("POST", "/api/account/totp", { current_password: BULK }, token);
  assert.ok(started.secret, JSON.stringify(started));
  const confirmed = await api("POST", "/api/account/totp/confirm", { code: totp(started.secret, clock.now) }, token);
  assert.equal(confirmed.recovery_codes?.length, 10, JSON.stringify(confirmed));
  await clock.step();
  return { secret: started.secret, codes: confirmed.recovery_codes };
}

/** The password step of the login page, up to the code step. */
async function passwordStep(page, account, password = BULK) {
  await page.getByLabel("アカウント", { exact: true }).fill(account);
  await page.getByLabel("パスワード", { exact: true }).fill(password);
  await page.getByRole("button", { name: "ログイン" }).click();
  await page.locator("#sf-code").waitFor();
}

/** `text` as a Japanese IME in full-width mode types it (１２３４５６). */
const fullWidth = (text) => text.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));

async function code(page, value) {
  await page.getByLabel("確認コード", { exact: true }).fill(value);
  await page.getByRole("button", { name: "確認", exact: true }).click();
}

describe("R-CRED-1: the UTokyo Account password", () => {
  test("password change: rules first, a wrong current password stays on the form, success ends every session and the new one works", async () => {
    const account = "1000000110";
    const page = await login(account, BULK);
    const elsewhere = await tokenOf(account, BULK);
    await page.getByRole("link", { name: "UTokyo Account のパスワード変更" }).click();
    await page.getByRole("heading", { name: "UTokyo Account のパスワード変更" }).waitFor();
    const sent = requestsTo(page, "/api/account/password", "PUT");
    const current = page.getByLabel("現在のパスワード", { exact: true });
    const first = page.getByLabel("新しいパスワード", { exact: true });
    const again = page.getByLabel("新しいパスワード（確認）", { exact: true });
    assert.equal(await current.getAttribute("autocomplete"), "current-password");
    assert.equal(await first.getAttribute("autocomplete"), "new-password");
    const set = async (password, confirmation = password) => {
      await first.fill(password);
      await again.fill(confirmation);
      await page.getByRole("button", { name: "保存" }).click();
    };
    await current.fill(BULK);
    // What the page can check is said before the confirmation, and nothing is sent.
    await set("todai");
    let text = await messageText(page);
    for (const rule of ["パスワードがポリシーを満たしていません", "8文字以上", "英大文字", "数字を1文字以上"]) assert.ok(text.includes(rule), `${rule} in ${text}`);
    await set("Nw8#kLp2-Vq5", "Nw8#kLp2-Vq6");
    assert.match(await messageText(page), /確認のパスワードが一致しません/);
    assert.equal(await page.getByRole("dialog").isVisible(), false, "no confirmation");
    assert.equal(sent.length, 0, "nothing sent for a rule the page can check");
    // The current password is checked first: a wrong one is the answer, even for a weak new one.
    await current.fill("Wrong-Pass-77");
    await set("Password1");
    const put = page.waitForRequest((r) => r.url().endsWith("/api/account/password") && r.method() === "PUT");
    await confirmOk(page);
    assert.deepEqual((await put).postDataJSON(), { current_password: "Wrong-Pass-77", new_password: "Password1" });
    text = await messageText(page);
    assert.match(text, /現在のパスワードに誤りがあります/);
    assert.doesNotMatch(text, /辞書/);
    assert.match(page.url(), /#\/account-password$/);
    assert.ok(await page.locator("nav").isVisible(), "still logged in");
    assert.ok(await page.evaluate(() => !!sessionStorage.getItem("token")), "the token is kept");
    await shot(page, "account-password-wrong-current");
    // The right current password: now the server's policy speaks.
    await current.fill(BULK);
    await set("Password1");
    await confirmOk(page);
    assert.match(await messageText(page), /辞書の単語やよく使われるパスワードは使えません/);
    await set("Nw8#kLp2-Vq5");
    assert.match(await page.getByRole("dialog").innerText(), /ログインし直してください/);
    await confirmOk(page);
    await page.waitForURL(/#\/login$/);
    assert.match(await messageText(page), /パスワードを変更しました。新しいパスワードでログインしてください/);
    assert.match(await page.locator("#messages").getAttribute("class"), /\bok\b/, "said as a success");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("token")), null);
    assert.equal(await page.locator("nav").isVisible(), false);
    await shot(page, "account-password-done");
    // Every session ended, the other one too; the old password is refused, the new one works.
    assert.equal((await api("GET", "/api/me", null, elsewhere)).error?.code !== undefined, true, "the other session ended");
    assert.equal((await api("POST", "/api/session", { realm: "utokyo", account, password: BULK })).error?.code, "invalid_credentials");
    await page.getByLabel("アカウント", { exact: true }).fill(account);
    await page.getByLabel("パスワード", { exact: true }).fill("Nw8#kLp2-Vq5");
    await page.getByRole("button", { name: "ログイン" }).click();
    await page.waitForURL(/#\/menu$/);
    assert.deepEqual(pageErrors(page), []);
  });

  test("the initial password not changed: the top page and the menu say where to change it; once changed, cloud mail opens", async () => {
    const page = await login("0000000002", "Demo-Student-2");
    await shows(page, "#initial-password", /初期パスワードがまだ変更されていません/);
    assert.match(await page.locator("nav").innerText(), /「UTokyo Account のパスワード変更」で初期パスワードを変更してから利用してください/);
    await shot(page, "top-initial-password-notice");
    // A page it does not open yet says why and links to the password page.
    await page.evaluate(() => (location.hash = "#/cloud-mail"));
    await page.locator("#unavailable").getByRole("link", { name: "パスワードを変更する" }).click();
    await page.waitForURL(/#\/account-password$/);
    await shows(page, "#pw-initial", /初期パスワードをまだ変更していません/);
    await page.getByLabel("現在のパスワード", { exact: true }).fill("Demo-Student-2");
    // The same as the current one is said before the confirmation.
    await page.getByLabel("新しいパスワード", { exact: true }).fill("Demo-Student-2");
    await page.getByLabel("新しいパスワード（確認）", { exact: true }).fill("Demo-Student-2");
    await page.getByRole("button", { name: "保存" }).click();
    assert.match(await messageText(page), /現在のパスワードと同じ値は使えません/);
    assert.equal(await page.getByRole("dialog").isVisible(), false, "no confirmation");
    await page.getByLabel("新しいパスワード", { exact: true }).fill("Qz4#tRw8-Lm3");
    await page.getByLabel("新しいパスワード（確認）", { exact: true }).fill("Qz4#tRw8-Lm3");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    await page.waitForURL(/#\/login$/);
    assert.match(await messageText(page), /パスワードを変更しました/);
    await page.getByLabel("アカウント", { exact: true }).fill("0000000002");
    await page.getByLabel("パスワード", { exact: true }).fill("Qz4#tRw8-Lm3");
    await page.getByRole("button", { name: "ログイン" }).click();
    await page.waitForURL(/#\/menu$/);
    await page.getByRole("link", { name: "ECCS クラウドメール", exact: true }).waitFor();
    assert.doesNotMatch(await page.locator("nav").innerText(), /初期パスワード/);
    assert.equal(await page.locator("#initial-password").count(), 0);
    await page.getByRole("button", { name: "English" }).click();
    await page.getByRole("link", { name: "Change your password" }).waitFor();
    assert.deepEqual(pageErrors(page), []);
  });
});

describe("R-CRED-2: sign-in activity", () => {
  test("sign-in activity: a wrong password tried before from another browser is listed, newest first, with the browser in short", async () => {
    const account = "1000000111";
    const wrong = await attempt(account, "Not-The-Password-1");
    assert.equal(wrong.status, 401);
    const page = await login(account, BULK);
    await page.getByRole("link", { name: "サインイン履歴" }).click();
    const rows = page.locator("#sign-ins tbody tr");
    await rows.first().waitFor();
    assert.equal(await rows.count(), 2, "the wrong password, then this login");
    const [latest, earlier] = [rows.nth(0), rows.nth(1)];
    assert.equal(await latest.getAttribute("data-result"), "success");
    assert.equal(await latest.locator("td").nth(1).innerText(), "成功");
    assert.match(await latest.locator("td").nth(3).innerText(), /Chrome（Linux）/);
    assert.equal(await earlier.getAttribute("data-result"), "wrong_password");
    assert.equal(await earlier.locator("td").nth(1).innerText(), "パスワードの誤り");
    assert.match(await earlier.locator("td").nth(1).getAttribute("class"), /bad/);
    assert.equal(await earlier.locator("td").nth(2).innerText(), "127.0.0.1");
    assert.match(await earlier.locator("td").nth(0).innerText(), /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}$/);
    // The browser in short; the full User-Agent on demand (a tooltip, and Enter on the summary).
    const summary = earlier.locator("summary");
    assert.equal(await summary.innerText(), "Edge（Windows）");
    assert.equal(await summary.getAttribute("title"), EDGE_ON_WINDOWS);
    await summary.focus();
    await page.keyboard.press("Enter");
    await earlier.locator("code").filter({ hasText: "Edg/131.0.0.0" }).waitFor();
    assert.match(await page.locator("#sign-ins-warning").innerText(), /心当たりのない記録があれば、すぐにパスワードを変更し、ヘルプデスクに連絡してください/);
    await page.locator("#sign-ins-warning").getByRole("link", { name: "パスワードを変更する" }).waitFor();
    await shot(page, "sign-ins");
    await page.getByRole("button", { name: "English" }).click();
    await shows(page, "#sign-ins tbody", /Wrong password/);
    assert.equal(await page.locator("#sign-ins tbody tr").nth(1).locator("summary").innerText(), "Edge on Windows");
    assert.match(await page.locator("#sign-ins-warning").innerText(), /change your password at once and contact the help desk/);
    await shot(page, "sign-ins-en");
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the table scrolls in its box, not the page (${overflow}px too wide)`);
    await shot(page, "sign-ins-en-phone");
    assert.deepEqual(pageErrors(page), []);
  });
});

describe("R-CRED-3: two-step verification", () => {
  test("two-step: enrol from the shown key, recovery codes once, log in with a code and with a recovery code; used codes refused", async () => {
    const account = "1000000112";
    const clock = new Clock();
    await clock.set();
    try {
      const page = await login(account, BULK);
      await page.getByRole("link", { name: "2段階認証" }).click();
      await shows(page, "#two-step-state", /2段階認証は設定されていません/);
      await shot(page, "two-step-off");
      // Setting it up needs the current password (R-SEC-1): a wrong one stays on the form.
      const startPassword = page.getByLabel("現在のパスワード", { exact: true });
      await startPassword.fill("Wrong-Pass-77");
      await page.getByRole("button", { name: "設定を始める" }).click();
      assert.match(await messageText(page), /現在のパスワードに誤りがあります/);
      assert.equal(await page.locator("#totp-qr").count(), 0);
      await startPassword.fill(BULK);
      await page.getByRole("button", { name: "設定を始める" }).click();
      const qr = page.getByRole("img", { name: /QR コード/ });
      await qr.waitFor();
      assert.match(await qr.getAttribute("src"), /^data:image\/svg\+xml;base64,/);
      assert.ok(await qr.evaluate((img) => img.complete && img.naturalWidth > 0), "the QR code is drawn under the CSP");
      const key = await page.locator("#totp-secret").innerText();
      assert.match(key, /^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/, "grouped in fours");
      const secret = key.replaceAll(" ", "");
      assert.match(await page.locator("#totp-open").getAttribute("href"), new RegExp(`^otpauth://totp/ECCS:${account}\\?secret=${secret}`));
      await shot(page, "two-step-enrol");
      const field = page.getByLabel("確認コード", { exact: true });
      assert.equal(await field.getAttribute("autocomplete"), "one-time-code");
      // The form of a code is checked before OK; a wrong code is the server's answer.
      await field.fill("12345");
      await page.getByRole("button", { name: "有効にする" }).click();
      assert.match(await messageText(page), /6桁の数字/);
      assert.equal(await page.getByRole("dialog").isVisible(), false);
      const right = totp(secret, clock.now);
      await field.fill(right === "000000" ? "111111" : "000000");
      await page.getByRole("button", { name: "有効にする" }).click();
      await confirmOk(page);
      assert.match(await messageText(page), /確認コードが正しくありません/);
      await field.fill(right);
      await page.getByRole("button", { name: "有効にする" }).click();
      await confirmOk(page);
      assert.match(await messageText(page), /2段階認証を有効にしました/);
      // The recovery codes, this once, with a warning and a file to keep them in.
      const listed = page.locator("#recovery-codes li");
      await listed.first().waitFor();
      const codes = await listed.allInnerTexts();
      assert.equal(codes.length, 10);
      for (const c of codes) assert.match(c, /^[0-9A-Z]{5}-[0-9A-Z]{5}$/);
      assert.match(await page.locator("#recovery-warning").innerText(), /二度と表示されません/);
      const download = page.waitForEvent("download");
      await page.getByRole("link", { name: "回復コードをファイル（.txt）に保存" }).click();
      const saved = await download;
      assert.match(saved.suggestedFilename(), /\.txt$/);
      let file = "";
      for await (const chunk of await saved.createReadStream()) file += chunk;
      for (const c of codes) assert.ok(file.includes(c), `${c} in the file`);
      await shot(page, "two-step-recovery-codes");
      // A language switch keeps them on screen (they cannot be fetched again).
      await page.getByRole("button", { name: "English" }).click();
      await shows(page, "#recovery-warning", /never shown again/);
      assert.deepEqual(await listed.allInnerTexts(), codes);
      await page.getByRole("button", { name: "日本語" }).click();
      await shows(page, "#recovery-warning", /二度と表示されません/);
      await page.getByRole("button", { name: "保存しました" }).click();
      await confirmOk(page);
      await shows(page, "#two-step-state", /2段階認証は有効です（\d{4}\/\d{2}\/\d{2} \d{2}:\d{2} から）/);
      assert.match(await page.locator("#recovery-left").innerText(), /残りの回復コード: 10 個/);
      assert.equal(await listed.count(), 0, "never shown again");
      await page.reload();
      await shows(page, "#two-step-state", /2段階認証は有効です/);
      assert.equal(await listed.count(), 0, "never shown again");
      await shot(page, "two-step-on");

      // Login: the password, then the code step (no token before the code).
      await page.getByRole("button", { name: "ログアウト" }).click();
      await passwordStep(page, account);
      const input = page.getByLabel("確認コード", { exact: true });
      assert.equal(await input.getAttribute("autocomplete"), "one-time-code");
      assert.equal(await input.getAttribute("inputmode"), "numeric");
      assert.equal(await page.evaluate(() => document.activeElement.id), "sf-code", "the code field has the focus");
      assert.equal(await page.evaluate(() => sessionStorage.getItem("token")), null);
      await shot(page, "login-code-step");
      // The code that confirmed the enrolment was accepted once: not again.
      await code(page, right);
      assert.match(await messageText(page), /確認コードが正しくないか、期限が切れています/);
      assert.ok(await page.locator("#sf-code").isVisible(), "still the code step");
      await shot(page, "login-code-refused");
      await clock.step();
      // Typed in full width (a Japanese IME left in that mode): the same digits.
      await code(page, fullWidth(totp(secret, clock.now)));
      await page.waitForURL(/#\/menu$/);

      // A recovery code works once (the box brings the letters back).
      await page.getByRole("button", { name: "ログアウト" }).click();
      await passwordStep(page, account);
      await page.getByLabel("回復コードを使う").check();
      assert.equal(await input.getAttribute("inputmode"), "text");
      await code(page, codes[0].toLowerCase());
      await page.waitForURL(/#\/menu$/);
      await page.getByRole("link", { name: "2段階認証" }).click();
      await shows(page, "#recovery-left", /残りの回復コード: 9 個/);
      await page.getByRole("button", { name: "ログアウト" }).click();
      await passwordStep(page, account);
      await code(page, codes[0]);
      assert.match(await messageText(page), /確認コードが正しくないか、期限が切れています/);
      // Starting again is one button away.
      await page.getByRole("button", { name: "最初からログインし直す" }).click();
      await page.getByLabel("パスワード", { exact: true }).waitFor();
      assert.equal(await page.locator("#sf-code").count(), 0);

      // The sign-in activity shows the codes asked for and the wrong ones.
      await clock.step();
      await passwordStep(page, account);
      await code(page, totp(secret, clock.now));
      await page.waitForURL(/#\/menu$/);
      await page.getByRole("link", { name: "サインイン履歴" }).click();
      await shows(page, "#sign-ins tbody", /確認コードの誤り/);
      assert.match(await page.locator("#sign-ins tbody").innerText(), /パスワード確認済み・確認コード待ち/);
      assert.deepEqual(pageErrors(page), []);
    } finally {
      await setClock(null);
    }
  });

  test("two-step login: back to the page the session expired on; an expired challenge offers to start again", async () => {
    const account = "1000000115";
    const clock = new Clock();
    await clock.set();
    try {
      const { secret } = await enrolled(account, clock);
      const page = await openPage("#/login");
      await passwordStep(page, account);
      await code(page, totp(secret, clock.now));
      await page.waitForURL(/#\/menu$/);
      await page.getByRole("link", { name: "サインイン履歴" }).click();
      await page.locator("#sign-ins").waitFor();
      await clock.step(31 * 60e3);
      await page.getByRole("link", { name: "2段階認証" }).click();
      await page.waitForURL(/#\/login$/);
      assert.match(await messageText(page), /セッションの有効期限が切れました/);
      await passwordStep(page, account);
      await code(page, totp(secret, clock.now));
      await page.waitForURL(/#\/two-step$/);
      await shows(page, "#two-step-state", /2段階認証は有効です/);
      // A challenge lives 5 minutes: after that the code is refused and the login starts over.
      await page.getByRole("button", { name: "ログアウト" }).click();
      await passwordStep(page, account);
      await clock.step(6 * 60e3);
      await code(page, totp(secret, clock.now));
      const text = await messageText(page);
      assert.match(text, /期限が切れています。もう一度ログインしてください/);
      assert.match(text, /最初からログインし直す/);
      await page.getByRole("button", { name: "English" }).click();
      await page.getByRole("button", { name: "Start the login again" }).click();
      await page.getByLabel("Password", { exact: true }).waitFor();
      assert.deepEqual(pageErrors(page), []);
    } finally {
      await setClock(null);
    }
  });

  test("two-step login: wrong codes count like wrong passwords; too many say how long to wait", async () => {
    const account = "1000000119";
    const clock = new Clock();
    await clock.set();
    try {
      const { secret } = await enrolled(account, clock);
      const right = totp(secret, clock.now);
      const wrong = right === "000000" ? "111111" : "000000";
      const page = await openPage("#/login");
      await passwordStep(page, account);
      let text = "";
      for (let i = 0; i < 6 && !/しばらく試せません/.test(text); i++) {
        await code(page, wrong);
        text = await messageText(page);
        assert.match(text, /確認コードが正しくないか|しばらく試せません/);
      }
      assert.match(text, /^失敗が続いたため、しばらく試せません（\d+ 分後に再試行）$/);
      // Even the right code waits now.
      await code(page, right);
      assert.match(await messageText(page), /しばらく試せません/);
      assert.equal(await page.evaluate(() => sessionStorage.getItem("token")), null, "no token");
      await shot(page, "login-code-too-many");
      assert.deepEqual(pageErrors(page).filter((e) => !/status of 429/.test(String(e))), []);
    } finally {
      await setClock(null);
    }
  });

  test("two-step removal: the current password and a code; a wrong password stays on the form; then the password alone logs in", async () => {
    const account = "1000000116";
    const clock = new Clock();
    await clock.set();
    try {
      const { secret, codes } = await enrolled(account, clock);
      const page = await openPage("#/login");
      await passwordStep(page, account);
      await code(page, totp(secret, clock.now));
      await page.waitForURL(/#\/menu$/);
      await page.getByRole("link", { name: "2段階認証" }).click();
      await page.getByRole("heading", { name: "2段階認証の解除" }).waitFor();
      const password = page.getByLabel("現在のパスワード", { exact: true });
      const removeCode = page.getByLabel("確認コードまたは回復コード", { exact: true });
      await password.fill(BULK);
      await removeCode.fill("12-34");
      await page.getByRole("button", { name: "解除する" }).click();
      assert.match(await messageText(page), /6桁の数字で、回復コードは「XXXXX-XXXXX」の形/);
      assert.equal(await page.getByRole("dialog").isVisible(), false);
      await clock.step();
      await password.fill("Wrong-Pass-77");
      await removeCode.fill(totp(secret, clock.now));
      await page.getByRole("button", { name: "解除する" }).click();
      await confirmOk(page);
      assert.match(await messageText(page), /現在のパスワードに誤りがあります/);
      assert.match(page.url(), /#\/two-step$/);
      assert.ok(await page.evaluate(() => !!sessionStorage.getItem("token")), "still logged in");
      await password.fill(BULK);
      await removeCode.fill("000000" === totp(secret, clock.now) ? "111111" : "000000");
      await page.getByRole("button", { name: "解除する" }).click();
      await confirmOk(page);
      assert.match(await messageText(page), /確認コードが正しくありません/);
      await shot(page, "two-step-remove-wrong-code");
      await removeCode.fill(codes[4]);
      await page.getByRole("button", { name: "解除する" }).click();
      assert.match(await page.getByRole("dialog").innerText(), /パスワードだけになります/);
      await confirmOk(page);
      assert.match(await messageText(page), /2段階認証を解除しました/);
      await shows(page, "#two-step-state", /2段階認証は設定されていません/);
      const again = await api("POST", "/api/session", { realm: "utokyo", account, password: BULK });
      assert.ok(again.token, `the password alone logs in: ${JSON.stringify(again)}`);
      assert.deepEqual(pageErrors(page), []);
    } finally {
      await setClock(null);
    }
  });
});

describe("the help desk: sign-ins and a second factor's removal", () => {
  test("lookup: the sign-ins with lockouts and their source; the second factor removed after an in-person check", async () => {
    const locked = "1000000118";
    for (let i = 0; i < 5; i++) assert.equal((await attempt(locked, `Wrong-Pass-${i}`)).status, 401);
    assert.equal((await attempt(locked, "Wrong-Pass-9")).status, 429, "the sixth from this source is refused");
    const account = "1000000117";
    const clock = new Clock();
    await clock.set();
    try {
      await enrolled(account, clock);
    } finally {
      await setClock(null);
    }
    const page = await login(...op);
    await page.evaluate((a) => (location.hash = `#/admin-accounts/${a}`), locked);
    await shows(page, "#desk-lockouts", /127\.0\.0\.1/);
    // One record per refused source and window (R-CRED-2), wherever it sorts.
    const lockout = page.locator('#desk-sign-ins tr[data-result="locked"]');
    assert.equal(await lockout.count(), 1);
    assert.match(await lockout.innerText(), /失敗が続いたため拒否\s+127\.0\.0\.1\s+Edge（Windows）/);
    assert.equal(await page.locator('#desk-sign-ins tr[data-result="wrong_password"]').count(), 5);
    assert.match(await page.locator("#lookup-two-step").innerText(), /^未設定$/);
    assert.equal(await page.locator("#desk-totp").count(), 0, "nothing to remove");
    await shot(page, "lookup-sign-ins-lockout");

    await page.evaluate((a) => (location.hash = `#/admin-accounts/${a}`), account);
    await shows(page, "#lookup-two-step", /^有効（\d{4}\/\d{2}\/\d{2} \d{2}:\d{2} から、回復コード残り 10 個）$/);
    assert.match(await page.locator("#desk-sign-ins tbody").innerText(), /成功/);
    const form = page.locator("#desk-totp");
    await form.getByRole("button", { name: "2段階認証を解除" }).click();
    assert.match(await messageText(page), /2段階認証の解除には窓口での本人確認が必要です/);
    assert.equal(await page.getByRole("dialog").isVisible(), false, "no confirmation without the document");
    await page.locator("#totp-in-person").selectOption("passport");
    await form.getByRole("button", { name: "2段階認証を解除" }).click();
    assert.match(await page.getByRole("dialog").innerText(), /1000000117 の2段階認証を解除します（本人確認書類: パスポート）/);
    await confirmOk(page);
    assert.match(await messageText(page), /1000000117 の2段階認証を解除しました/);
    await shows(page, "#lookup-two-step", /^未設定$/);
    assert.equal(await page.locator("#desk-totp").count(), 0);
    await shows(page, "#audit", /second_factor\.removed/);
    assert.match(await page.locator("#audit").innerText(), /passport/);
    await shot(page, "lookup-two-step-removed");
    const again = await api("POST", "/api/session", { realm: "utokyo", account, password: BULK });
    assert.ok(again.token, `the password alone logs in: ${JSON.stringify(again)}`);
    await page.getByRole("button", { name: "English" }).click();
    await shows(page, "#desk-sign-ins-title", /Sign-in activity \(last 20\)/);
    assert.match(await page.locator("#lookup-two-step").innerText(), /Not set up/);
    assert.deepEqual(pageErrors(page), []);
  });
});
