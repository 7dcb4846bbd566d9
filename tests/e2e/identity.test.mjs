// R-CRED-4 in the browser, through the real provider's own pages (node-oidc-provider's sign-in
// and consent): a student links the identity verification service, forgets the password, and
// resets it (and a broken second factor) without the help desk. axe-core checks the new pages.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { env, login, mailTo, messageText, openPage, shot } from "./harness.mjs";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** axe-core's WCAG 2.x A/AA rules on the page as it is: the violations, by rule id. */
async function axeViolations(page) {
  // Through the debugging protocol: the page's CSP (script-src 'self') rightly refuses an inline script.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => globalThis.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }));
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/** At the provider: sign in as `login` if it asks, and consent if it asks, until it sends the browser back. */
async function atProvider(page, login) {
  for (let i = 0; i < 4 && page.url().startsWith(env.issuer); i++) {
    const name = page.locator("input[name=login]");
    if (await name.isVisible().catch(() => false)) {
      await name.fill(login);
      await page.locator("input[name=password]").fill("any password");
      await shot(page, "provider-sign-in");
      await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Sign-in" }).click()]);
      continue;
    }
    const consent = page.getByRole("button", { name: "Continue" });
    if (await consent.isVisible().catch(() => false)) {
      await Promise.all([page.waitForNavigation(), consent.click()]);
      continue;
    }
    await page.waitForNavigation({ timeout: 5000 }).catch(() => null);
  }
  await page.waitForURL((u) => u.toString().startsWith(env.base));
}

test("R-CRED-4: link, forget, reset through the provider's own pages; the grant leaves the address bar", async () => {
  const page = await login("0000000001", "Demo-Student-1");
  await page.goto(`${env.base}/#/identity-link`);
  await page.locator("#idl-state").getByText("連携していません").waitFor();
  assert.deepEqual(await axeViolations(page), []);
  await shot(page, "identity-link-unlinked");
  // R-SEC-1: the current password goes with it (a session left open must not link another's account).
  await page.getByLabel("現在のパスワード", { exact: true }).fill("Demo-Student-1");
  await page.getByRole("button", { name: "本人確認サービスで連携する" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "OK" }).click();
  await page.waitForURL((u) => u.toString().startsWith(env.issuer));
  await atProvider(page, "student-0001");
  await page.waitForURL(/#\/identity-link$/);
  assert.match(await messageText(page), /本人確認サービスと連携しました/);
  await page.locator("#idl-state").getByText(env.issuer).waitFor();
  assert.ok(!page.url().includes("linked="), `the result is not left in the address bar: ${page.url()}`);
  await shot(page, "identity-link-linked");
  const linkedMail = await mailTo("0000000001@g.ecc.u-tokyo.ac.jp");
  assert.ok(linkedMail.some((m) => m.subject.includes("本人確認サービスが連携されました")), JSON.stringify(linkedMail.map((m) => m.subject)));
  assert.deepEqual(page.errors, []);
  await page.context().close();

  // Another day, the password is forgotten.
  const fresh = await openPage("#/login");
  await fresh.getByRole("link", { name: "パスワードを忘れた方" }).click();
  await fresh.waitForURL(/#\/forgot$/);
  assert.deepEqual(await axeViolations(fresh), []);
  await shot(fresh, "forgot");
  await fresh.getByLabel("アカウント", { exact: true }).fill("0000000001");
  await fresh.getByRole("button", { name: "本人確認サービスへ進む" }).click();
  await fresh.waitForURL((u) => u.toString().startsWith(env.issuer));
  await atProvider(fresh, "student-0001");
  await fresh.waitForURL(/#\/password-reset$/);
  assert.ok(!fresh.url().includes("grant="), `the grant is not left in the address bar: ${fresh.url()}`);
  await fresh.getByRole("heading", { name: "パスワードの再設定" }).waitFor();
  assert.deepEqual(await axeViolations(fresh), []);
  await shot(fresh, "password-reset");
  // The language switch keeps the page and the grant.
  await fresh.getByRole("button", { name: "English" }).click();
  await fresh.getByRole("heading", { name: "Reset your password" }).waitFor();
  await fresh.getByRole("button", { name: "日本語" }).click();
  await fresh.getByLabel("新しいパスワード", { exact: true }).fill("Hoshizora-Kyoto-77");
  await fresh.getByLabel("新しいパスワード（確認）", { exact: true }).fill("Hoshizora-Kyoto-77");
  await fresh.getByLabel(/2段階認証の設定も削除する/).check();
  await fresh.getByRole("button", { name: "保存" }).click();
  await fresh.waitForURL(/#\/login$/);
  assert.match(await messageText(fresh), /パスワードを再設定しました/);
  await shot(fresh, "password-reset-done");
  assert.deepEqual(fresh.errors, []);
  await fresh.context().close();

  const back = await login("0000000001", "Hoshizora-Kyoto-77");
  await back.getByRole("heading", { level: 2 }).first().waitFor();
  await back.context().close();
  const resetMail = await mailTo("0000000001@g.ecc.u-tokyo.ac.jp", 2);
  assert.ok(resetMail.some((m) => m.subject.includes("パスワードが再設定されました")));
});

test("R-CRED-4: an account not linked gets the one answer, in words, with the way to the help desk", async () => {
  const page = await openPage("#/forgot");
  await page.getByLabel("アカウント", { exact: true }).fill("0000000004");
  await page.getByRole("button", { name: "本人確認サービスへ進む" }).click();
  await page.waitForURL((u) => u.toString().startsWith(env.issuer));
  await atProvider(page, "someone-else");
  await page.waitForURL(/#\/password-reset$/);
  await page.locator("#reset-error").getByText("窓口").waitFor();
  assert.deepEqual(await axeViolations(page), []);
  await shot(page, "password-reset-not-possible");
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
