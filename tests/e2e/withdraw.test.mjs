// End-to-end tests of what can be taken back before it takes effect, in headless Debian Chromium
// against `eccs-local serve --memory --demo`: a pending cloud-mail address replaced (a typo fixed)
// or withdrawn until minute 0 (R-CMA-3), and a scheduled ECCS suspension replaced by a new
// application or withdrawn before its day, the history saying which (R-APP-SUS-3).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, confirmOk, login, messageText, nextMinuteZero, shot, tokenOf } from "./harness.mjs";

const BULK = "Demo-Bulk-Pass";
const DOMAIN = "g.ecc.u-tokyo.ac.jp";

/** Waits until `selector` shows text matching `pattern` (pages draw after their fetches). */
async function shows(page, selector, pattern) {
  await page.locator(selector).filter({ hasText: pattern }).first().waitFor();
  assert.match(await page.locator(selector).first().innerText(), pattern);
}

const pageErrors = (page) => page.errors.filter((e) => !/status of 40[014]/.test(String(e)));

/** A date `n` days from today in Tokyo, as the API takes it, and as the Japanese page shows it. */
const dayFromNow = (n) => new Date(Date.now() + 9 * 3600e3 + n * 24 * 3600e3).toISOString().slice(0, 10);
const ja = (date) => date.replaceAll("-", "/");

async function saveAddress(page, local) {
  await page.getByLabel("メールアドレス", { exact: true }).fill(local);
  await page.getByRole("button", { name: "保存" }).click();
}

describe("R-CMA-3: a pending cloud-mail address", () => {
  test("cloud-mail address: a pending change is replaced by saving another, then withdrawn; it is gone and the address free again", async () => {
    const account = "1000000120";
    const page = await login(account, BULK);
    await page.getByRole("link", { name: "ECCS クラウドメール", exact: true }).click();
    assert.equal(await page.locator("#cma-pending").count(), 0, "nothing pending yet");
    await saveAddress(page, "typo.adress");
    await confirmOk(page);
    assert.match(await messageText(page), /typo\.adress@g\.ecc\.u-tokyo\.ac\.jp への変更は毎時0分に反映されます/);
    await shows(page, "#cma-pending", new RegExp(`typo\\.adress@g\\.ecc\\.u-tokyo\\.ac\\.jp に変更予定です（${nextMinuteZero()} に反映されます）`));
    assert.match(await page.locator("#cma-replace-hint").innerText(), new RegExp(`^別のアドレスを保存すると、この変更を置き換えます（${nextMinuteZero()} まで誤りを直せます）。$`));
    await shot(page, "cloud-mail-address-pending-withdrawable");
    // A typo fixed: saving another address replaces the pending one, and the dialog says so.
    await saveAddress(page, "typo.address");
    assert.match(await page.getByRole("dialog").innerText(), /typo\.address@g\.ecc\.u-tokyo\.ac\.jp に変更します（予定していた typo\.adress@g\.ecc\.u-tokyo\.ac\.jp への変更は置き換えられます）/);
    await confirmOk(page);
    await shows(page, "#cma-pending", /typo\.address@g\.ecc\.u-tokyo\.ac\.jp に変更予定です/);
    // Withdrawn: 取り消す → the confirmation → the completion, and the page redrawn without it.
    await page.locator("#cma-pending").getByRole("button", { name: "取り消す" }).click();
    assert.match(await page.getByRole("dialog").innerText(), /typo\.address@g\.ecc\.u-tokyo\.ac\.jp への変更を取り消します/);
    await confirmOk(page);
    assert.match(await messageText(page), new RegExp(`typo\\.address@g\\.ecc\\.u-tokyo\\.ac\\.jp への変更を取り消しました。アドレスは ${account}@g\\.ecc\\.u-tokyo\\.ac\\.jp のままです`));
    await page.locator("#cma-pending").waitFor({ state: "detached" });
    assert.doesNotMatch(await page.locator("#view").innerText(), /変更予定/);
    assert.equal(await page.getByLabel("メールアドレス", { exact: true }).inputValue(), account, "the field shows the current address again");
    assert.equal(await page.locator("#current-address").innerText(), `${account}@${DOMAIN}`);
    await shot(page, "cloud-mail-address-withdrawn");
    const token = await tokenOf(account, BULK);
    assert.equal((await api("GET", "/api/cloud-mail/address", null, token)).pending, null);
    await page.reload();
    await page.locator("#current-address").waitFor();
    assert.equal(await page.locator("#cma-pending").count(), 0, "gone after a reload too");
    // Never used, both names are free again for someone else.
    const other = await tokenOf("1000000121", BULK);
    const taken = await api("PUT", "/api/cloud-mail/address", { address: "typo.address" }, other);
    assert.equal(taken.pending?.address, `typo.address@${DOMAIN}`, JSON.stringify(taken));
    await page.getByRole("button", { name: "English" }).click();
    await page.getByLabel("Mail address", { exact: true }).waitFor();
    assert.deepEqual(pageErrors(page), []);
  });

  test("cloud-mail address: withdrawing a change already withdrawn elsewhere redraws the page and says there is nothing pending", async () => {
    const account = "1000000122";
    const page = await login(account, BULK);
    await page.getByRole("link", { name: "ECCS クラウドメール", exact: true }).click();
    await saveAddress(page, "second.tab");
    await confirmOk(page);
    await page.locator("#cma-pending").waitFor();
    const withdrawn = await api("DELETE", "/api/cloud-mail/address", null, await tokenOf(account, BULK));
    assert.deepEqual(withdrawn, { pending: null });
    await page.getByRole("button", { name: "取り消す" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /取り消せる変更はありません/);
    await page.locator("#cma-pending").waitFor({ state: "detached" });
    await page.getByRole("button", { name: "English" }).click();
    await shows(page, "#messages", /There is no pending change to withdraw/);
  });
});

describe("R-APP-SUS-3: a scheduled suspension", () => {
  test("suspension: a new one replaces the scheduled one (the form says so), the history shows it replaced; the scheduled one is withdrawn", async () => {
    const [first, second] = [dayFromNow(3), dayFromNow(5)];
    const page = await login("0000000004", "Demo-Faculty-4");
    await page.getByRole("link", { name: "ECCS利用停止申請" }).click();
    await page.getByLabel("ECCS停止希望日", { exact: true }).waitFor();
    assert.equal(await page.locator("#sus-scheduled").count(), 0, "nothing scheduled yet");
    await page.getByLabel("ECCS停止希望日", { exact: true }).fill(first);
    await page.getByRole("button", { name: "申請" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), new RegExp(`${ja(first)} に無効化されます`));
    // Scheduled: the form says that a new application replaces it.
    await shows(page, "#sus-scheduled", new RegExp(`停止日 ${ja(first)} の利用停止申請があります。新しく申請すると、その申請は置き換えられ`));
    await page.locator("#sus-scheduled").getByRole("link", { name: /申請履歴/ }).waitFor();
    await shot(page, "apply-suspension-scheduled");
    await page.getByLabel("ECCS停止希望日", { exact: true }).fill(second);
    await page.getByRole("button", { name: "申請" }).click();
    assert.match(await page.getByRole("dialog").innerText(), new RegExp(`ECCS停止希望日 ${ja(second)} で利用停止申請を行います。停止日 ${ja(first)} の申請は置き換えられます`));
    await confirmOk(page);
    assert.match(await messageText(page), new RegExp(`${ja(second)} に無効化されます。停止日 ${ja(first)} の申請は置き換えられました`));

    await page.getByRole("link", { name: "申請履歴", exact: true }).click();
    const replaced = page.locator('#history tr[data-status="replaced"]');
    await replaced.waitFor();
    assert.match(await replaced.innerText(), new RegExp(`別の申請で置き換え\\s*（停止日 ${ja(second)} の申請に置き換え）\\s+${ja(first)}`));
    assert.equal(await replaced.getByRole("button").count(), 0, "a replaced one cannot be withdrawn");
    const scheduled = page.locator('#history tr[data-status="scheduled"]');
    assert.match(await scheduled.innerText(), new RegExp(`予定\\s+${ja(second)}`));
    assert.equal(await page.locator("#history").getByRole("button", { name: "取り下げる" }).count(), 1, "only the scheduled one has the button");
    await shot(page, "history-withdrawable");
    await scheduled.getByRole("button", { name: "取り下げる" }).click();
    assert.match(await page.getByRole("dialog").innerText(), new RegExp(`停止日 ${ja(second)} の ECCS利用停止申請を取り下げます。ECCS利用権は停止されません`));
    await confirmOk(page);
    assert.match(await messageText(page), new RegExp(`停止日 ${ja(second)} の ECCS利用停止申請を取り下げました`));
    const withdrawn = page.locator('#history tr[data-status="withdrawn"]');
    await withdrawn.waitFor();
    assert.match(await withdrawn.innerText(), new RegExp(`取り下げ済み\\s+${ja(second)}`));
    assert.equal(await page.locator("#history").getByRole("button", { name: "取り下げる" }).count(), 0);
    assert.equal(await page.locator('#history tr[data-status="scheduled"]').count(), 0);
    await shot(page, "history-withdrawn");
    // Nothing stops: the top page no longer names a stop day, the form no longer a scheduled one.
    await page.getByRole("link", { name: "トップページ" }).click();
    await page.getByRole("heading", { name: /さん/ }).waitFor();
    assert.doesNotMatch(await page.locator("#view").innerText(), /に停止されます/);
    await page.getByRole("link", { name: "ECCS利用停止申請" }).click();
    await page.getByLabel("ECCS停止希望日", { exact: true }).waitFor();
    assert.equal(await page.locator("#sus-scheduled").count(), 0);
    await page.getByRole("link", { name: "申請履歴", exact: true }).click();
    await page.locator('#history tr[data-status="withdrawn"]').waitFor();
    await page.getByRole("button", { name: "English" }).click();
    await shows(page, '#history tr[data-status="withdrawn"]', /withdrawn/);
    assert.match(await page.locator('#history tr[data-status="replaced"]').innerText(), /replaced by another application/);
    await shot(page, "history-withdrawn-en");
    assert.deepEqual(pageErrors(page), []);
  });

  test("suspension: withdrawing one already withdrawn elsewhere redraws the history and says why", async () => {
    const page = await login("0000000005", "Demo-Staff-5");
    const token = await tokenOf("0000000005", "Demo-Staff-5");
    const applied = await api("POST", "/api/applications", { type: "eccs_suspension", stop_date: dayFromNow(4) }, token);
    assert.equal(applied.status, "scheduled", JSON.stringify(applied));
    await page.getByRole("link", { name: "申請履歴", exact: true }).click();
    const button = page.locator("#history").getByRole("button", { name: "取り下げる" });
    await button.waitFor();
    const closed = await api("DELETE", `/api/applications/${applied.id}`, null, token);
    assert.equal(closed.status, "withdrawn", JSON.stringify(closed));
    await button.click();
    await confirmOk(page);
    assert.match(await messageText(page), /取り下げられません/);
    await page.locator('#history tr[data-status="withdrawn"]').waitFor();
    assert.equal(await button.count(), 0);
  });
});
