// End-to-end tests of the account lifecycle pages (R-LC-1..7) in headless Debian Chromium: the
// help desk imports a registrar file in parts with progress, the person activates with the
// printed key, a reset needs an in-person check, and the conferencing invitation and forwarding
// confirmation are opened from the real mail an SMTP sink received.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, confirmOk, login, mailTo, messageText, openPage, setClock, shot, tokenOf } from "./harness.mjs";

const HEADER = "id,kind,name_ja,name_en,department_code,department_ja,department_en,valid_from,valid_until";

/** A registrar CSV of `n` students from `first` on: big enough to be sent in several parts. */
function registrarCsv(first, n, broken = null) {
  const rows = [HEADER];
  for (let i = 0; i < n; i++) {
    const id = String(first + i);
    const until = i + 2 === broken ? "2020-03-31" : "2030-03-31"; // line `broken` ends before it starts
    rows.push(`${id},student,新入 学生${i},Student Number ${i},D03,理学部,"Faculty of Science, Graduate School",2026-04-01,${until}`);
  }
  return rows.join("\n") + "\n";
}

async function chooseFile(page, name, text) {
  await page.getByLabel("ファイル（JSONL または CSV）").setInputFiles({ name, mimeType: "text/csv", buffer: Buffer.from(text) });
}

/** Waits until `selector` shows text matching `pattern` (pages draw after their fetches). */
async function shows(page, selector, pattern) {
  await page.locator(selector).filter({ hasText: pattern }).first().waitFor();
  assert.match(await page.locator(selector).first().innerText(), pattern);
}

/** The one-time link in a mail body, as the path after the portal address. */
function linkIn(body, route) {
  const match = body.match(new RegExp(`https?://[^\\s]+/(#/${route}/[^\\s]+)`));
  assert.ok(match, `a #/${route}/ link in the mail:\n${body}`);
  return match[1];
}

describe("help desk: import, activation, lookup", () => {
  const op = ["0000000009", "Demo-Operator-9"];

  test("a file with one bad line imports nothing and names the line of the file", async () => {
    const page = await login(...op);
    await page.getByRole("link", { name: "アカウント取込" }).click();
    await chooseFile(page, "registrar-bad.csv", registrarCsv(2200000000, 300, 251));
    await page.getByRole("button", { name: "取り込む" }).click();
    await confirmOk(page);
    const text = await messageText(page);
    assert.match(text, /何も取り込んでいません/);
    assert.match(text, /251 行目: \S*valid_(from|until)/, "the line of the whole file, not of its part");
    assert.match(await page.locator("#import-status").innerText(), /誤りがあるため、何も取り込んでいません/);
    await shot(page, "import-refused");
    const lookup = await api("GET", "/api/admin/accounts/2200000000", null, await tokenOf(...op));
    assert.equal(lookup.error.code, "not_found", "the good parts before the bad line were not imported either");
  });

  test("a large file goes in parts with progress; keys shown once; the person activates with one", async () => {
    const page = await login(...op);
    await page.getByRole("link", { name: "アカウント取込" }).click();
    const file = registrarCsv(2300000000, 300);
    assert.ok(Buffer.byteLength(file) > 2 * 16 * 1024, "more than two request bodies' worth");
    await chooseFile(page, "registrar.csv", file);
    await page.getByRole("button", { name: "取り込む" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /新規 300 件、更新 0 件、変更なし 0 件/);
    assert.match(await page.locator("#import-status").innerText(), /300 件を処理しました/);
    assert.equal(await page.locator("#import-progress").evaluate((p) => p.value), 1);
    assert.equal(await page.locator("#keys tbody tr").count(), 300);
    await shot(page, "import-done");
    const download = page.waitForEvent("download");
    await page.getByRole("link", { name: "有効化キーを CSV で保存" }).click();
    const saved = await (await download).createReadStream();
    let csv = "";
    for await (const chunk of saved) csv += chunk;
    assert.equal(csv.trim().split(/\r?\n/).length, 301, "header and one line a key");
    const key = await page.locator("#keys tbody tr").first().locator("td.key").innerText();
    const account = await page.locator("#keys tbody tr").first().locator("td").first().innerText();
    assert.equal(account, "2300000000");

    // Importing the same file again changes nothing.
    await chooseFile(page, "registrar.csv", file);
    await page.getByRole("button", { name: "取り込む" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /新規 0 件、更新 0 件、変更なし 300 件/);

    // The person, from the login page: a wrong key first, then the printed one.
    const person = await openPage("#/login");
    await person.getByRole("link", { name: "アカウントの有効化" }).click();
    await person.getByLabel("アカウント", { exact: true }).fill(account);
    await person.getByLabel("有効化キー").fill("AAAA-BBBB-CCCC-DDDD");
    await person.getByLabel("新しいパスワード", { exact: true }).fill("Vb6#pLw9-Qz2");
    await person.getByLabel("新しいパスワード（確認）").fill("Vb6#pLw9-Qz2");
    await person.getByRole("button", { name: "有効化する" }).click();
    assert.match(await messageText(person), /有効化キーに誤りがある/);
    assert.match(person.url(), /#\/activate$/, "a wrong key does not end a session it never had");
    await person.getByLabel("有効化キー").fill(key.toLowerCase());
    await shot(person, "activate");
    await person.getByRole("button", { name: "有効化する" }).click();
    await person.waitForURL(/#\/login$/);
    assert.match(await messageText(person), /有効化しました。新しいパスワードでログインしてください/);
    const again = await login(account, "Vb6#pLw9-Qz2");
    await again.getByRole("heading", { name: /新入 学生0/ }).waitFor();
    // The browser logs the refused key's 401 as a failed load; nothing else may go wrong.
    assert.deepEqual(person.errors.filter((e) => !String(e).includes("status of 401")), []);
  });

  test("lookup: a reset for an activated account not linked needs an in-person check; the audit shows it", async () => {
    // Only the verified link of R-CRED-4 waives the desk visit (identity.test.mjs); a person's
    // own say-so (the flag of earlier versions) is gone.
    const refused = await api("POST", "/api/admin/accounts/0000000003/activation-key", { action: "issue" }, await tokenOf(...op));
    assert.equal(refused.error.code, "identity_verification_required");
    const page = await login(...op);
    await page.getByRole("link", { name: "アカウント照会" }).click();
    await page.getByLabel("アカウント", { exact: true }).fill("0000000003");
    await page.getByRole("button", { name: "照会" }).click();
    await page.waitForURL(/#\/admin-accounts\/0000000003$/);
    await shows(page, "#lookup-facts", /有効化済み/);
    const facts = await page.locator("#lookup-facts").innerText();
    assert.match(facts, /有効化済み/);
    assert.match(facts, /連携していません/);
    // The document is required for a reset, and the page says why.
    const doc = page.getByLabel("窓口で確認した本人確認書類");
    assert.ok(await doc.evaluate((s) => s.required && !s.checkValidity()), "a document must be chosen");
    assert.match(await page.locator("#in-person-hint").innerText(), /窓口で確認した本人確認書類を選んでください/);
    await page.getByRole("button", { name: "発行" }).click();
    assert.equal(await page.getByRole("dialog").isVisible(), false, "nothing is sent without a document");
    await shot(page, "lookup-reset-needs-document");
    await doc.selectOption("staff_id_card");
    await page.getByRole("button", { name: "発行" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /発行しました/);
    assert.match(await page.locator("#key-shown td.key").innerText(), /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    // The audit catches up while the key is still on screen.
    await shows(page, "#audit", /activation_key\.reset/);
    assert.match(await page.locator("#key-shown td.key").innerText(), /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    await shot(page, "lookup-key-issued");
    const audit = await page.locator("#audit").innerText();
    assert.match(audit, /activation_key\.reset/);
    assert.match(audit, /staff_id_card/);
    // Readable, not raw JSON: the action's name and each changed field, before → after.
    assert.match(audit, /パスワード再発行用キー発行/);
    assert.match(audit, /有効化キーの期限: .* → \d{4}\/\d{2}\/\d{2}/);
    assert.doesNotMatch(audit, /[{}"]/, "no JSON in the audit table");
    assert.doesNotMatch(audit, /[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}/, "never the key");
  });

  test("lock: the help desk locks with a reason; the person can neither log in nor go on; unlock opens it again", async () => {
    const account = "1000000010";
    const person = await login(account, "Demo-Bulk-Pass");
    const page = await login(...op);
    await page.getByRole("link", { name: "アカウント照会" }).click();
    await page.getByLabel("アカウント", { exact: true }).fill(account);
    await page.getByRole("button", { name: "照会" }).click();
    await shows(page, "#lookup-lock-state", /ロックされていません/);
    const reason = page.getByLabel("ロックの理由");
    assert.ok(await reason.evaluate((i) => i.required && i.maxLength === 500), "a reason is required, one line of at most 500");
    await reason.fill("不正利用の疑いのため本人に確認中");
    await page.getByRole("button", { name: "ロックする" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /1000000010 をロックします（理由: 不正利用の疑いのため本人に確認中）/);
    await confirmOk(page);
    assert.match(await messageText(page), /1000000010 をロックしました/);
    // The page draws again: locked, why, by whom and when, first thing on the account.
    await shows(page, "#lookup-lock", /ロック中（理由: 不正利用の疑いのため本人に確認中、担当: 0000000009、日時: /);
    assert.match(await page.locator("#lookup-lock-state").innerText(), /ロック中/);
    await page.getByRole("button", { name: "ロック解除" }).waitFor();
    await shows(page, "#audit", /account\.locked/);
    await shot(page, "lookup-locked");
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, "lookup-locked-phone");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `nothing wider than a phone (${overflow}px too wide)`);
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.getByRole("button", { name: "English" }).click();
    await shows(page, "#lookup-lock", /Locked \(reason: 不正利用の疑いのため本人に確認中; by 0000000009, /);
    await page.getByRole("button", { name: "Unlock" }).waitFor();
    await shot(page, "lookup-locked-en");
    await page.getByRole("button", { name: "日本語" }).click();
    await page.getByRole("button", { name: "ロック解除" }).waitFor();

    // A fresh browser: the login gets the usual answer, which reveals nothing of the lock.
    const fresh = await openPage("#/login");
    await fresh.getByLabel("アカウント", { exact: true }).fill(account);
    await fresh.getByLabel("パスワード", { exact: true }).fill("Demo-Bulk-Pass");
    await fresh.getByRole("button", { name: "ログイン" }).click();
    assert.match(await messageText(fresh), /アカウントもしくはパスワードに誤りがあります/);
    assert.match(fresh.url(), /#\/login$/);
    await shot(fresh, "login-locked");
    // The session the person already had stops working at once.
    await person.getByRole("link", { name: "リモートアクセス環境 利用申請" }).click();
    assert.match(await messageText(person), /もう一度ログインしてください/);
    await person.getByRole("button", { name: "ログイン" }).waitFor();

    await page.getByRole("button", { name: "ロック解除" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /1000000010 のロックを解除しました/);
    await shows(page, "#lookup-lock-state", /ロックされていません/);
    assert.equal(await page.locator("#lookup-lock").count(), 0);
    await page.getByLabel("ロックの理由").waitFor();
    const again = await login(account, "Demo-Bulk-Pass");
    await again.getByRole("heading", { name: /学生 一括/ }).waitFor();
    assert.deepEqual(page.errors, []);
  });

  test("runs: the last sync and sweep runs with what they did", async () => {
    await api("POST", "/_local/run/sync-hourly");
    const page = await login(...op);
    await page.getByRole("link", { name: "定期処理の実行履歴" }).click();
    await page.locator("#sync-runs tbody tr").first().waitFor();
    assert.match(await page.locator("#sync-runs").innerText(), /完了/);
    await shot(page, "runs");
  });
});

describe("the person's lifecycle pages", () => {
  test("conferencing: apply, the invitation arrives in the cloud mail, its link activates the account", async () => {
    const page = await login("0000000001", "Demo-Student-1");
    await page.getByRole("link", { name: "Web会議サービス" }).click();
    await shows(page, "#conf-state", /まだ申請していません/);
    await page.getByRole("button", { name: "申請" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /0000000001@g\.ecc\.u-tokyo\.ac\.jp に招待メールを送信しました/);
    await shot(page, "conferencing-invited");
    const [mail] = await mailTo("0000000001@g.ecc.u-tokyo.ac.jp");
    assert.match(mail.subject, /Web会議サービスへの招待/);
    const landing = await openPage(linkIn(mail.body, "accept"));
    await landing.getByRole("button", { name: "招待を受ける" }).click();
    assert.match(await messageText(landing), /Web会議サービスのアカウント 0000000001@g\.ecc\.u-tokyo\.ac\.jp を有効にしました/);
    await shot(landing, "conferencing-accepted");
    assert.ok(await landing.getByRole("button", { name: "招待を受ける" }).isDisabled(), "one press");
    await page.reload();
    await shows(page, "#conf-state", /利用できます/);
    assert.equal(await page.getByRole("button", { name: "申請" }).count(), 0);
    // The used link is gone.
    const reused = await openPage(linkIn(mail.body, "accept"));
    await reused.getByRole("button", { name: "招待を受ける" }).click();
    assert.match(await messageText(reused), /リンク/);
  });

  test("forwarding: waits for the link mailed to the address, then starts at minute 0", async () => {
    const page = await login("0000000004", "Demo-Faculty-4");
    await page.getByRole("link", { name: "ECCS クラウドメール（転送）" }).click();
    await shows(page, "#forwarding-current", /転送していません/);
    await page.getByLabel("現在のパスワード").fill("Demo-Faculty-4");
    await page.getByLabel("転送先メールアドレス").fill("someone@g.ecc.u-tokyo.ac.jp");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /クラウドメール自身のドメインには転送できません/);
    await page.getByLabel("転送先メールアドレス").fill("faculty4@example.org");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /faculty4@example\.org に確認メールを送りました/);
    assert.match(await page.locator("#view").innerText(), /faculty4@example\.org の確認待ちです/);
    await shot(page, "forwarding-requested");
    const [mail] = await mailTo("faculty4@example.org");
    const landing = await openPage(linkIn(mail.body, "forwarding"));
    await landing.getByRole("button", { name: "転送を開始する" }).click();
    assert.match(await messageText(landing), /faculty4@example\.org への転送は .* に始まります/);
    await page.reload();
    await shows(page, "#view", /faculty4@example\.org への転送が始まります/);
    await shot(page, "forwarding-pending");
    // The hourly sync at the next minute 0 applies it.
    const minuteZero = new Date(Math.ceil((Date.now() + 1) / 3600e3) * 3600e3 + 60e3);
    await setClock(minuteZero.toISOString());
    try {
      await api("POST", "/_local/run/sync-hourly");
    } finally {
      await setClock(null);
    }
    await page.reload();
    await shows(page, "#forwarding-current", /現在の転送先: faculty4@example\.org/);
    await page.getByRole("button", { name: "転送を停止" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /転送は .* に停止します/);
  });

  test("forwarding: the current password goes with the request, the own cloud mail is told, six a day is one too many", async () => {
    const account = "1000000011";
    const own = `${account}@g.ecc.u-tokyo.ac.jp`;
    const page = await login(account, "Demo-Bulk-Pass");
    await page.getByRole("link", { name: "ECCS クラウドメール（転送）" }).click();
    await shows(page, "#forward-notice", new RegExp(`ご自身のクラウドメール（${own}）に申請のお知らせが届きます`));
    const current = page.getByLabel("現在のパスワード");
    assert.equal(await current.getAttribute("autocomplete"), "current-password");
    await page.getByLabel("転送先メールアドレス").fill("bulk11@example.org");
    await current.fill("Wrong-Pass-77");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /現在のパスワードに誤りがあります/);
    assert.match(page.url(), /#\/cloud-mail-forwarding$/, "still logged in");
    await current.fill("Demo-Bulk-Pass");
    await shot(page, "forwarding-form");
    const sent = page.waitForRequest((r) => r.url().endsWith("/api/cloud-mail/forwarding") && r.method() === "PUT");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.deepEqual((await sent).postDataJSON(), { address: "bulk11@example.org", current_password: "Demo-Bulk-Pass" });
    const done = await messageText(page);
    assert.match(done, /bulk11@example\.org に確認メールを送りました/);
    assert.match(done, new RegExp(`${own} にも申請のお知らせを送りました`));
    assert.equal(await page.getByLabel("現在のパスワード").inputValue(), "", "the password is not left in the form");
    const [notice] = await mailTo(own);
    assert.match(notice.body, /bulk11@example\.org/);
    // Four more today (five in all), then the sixth is refused with the server's sentence.
    const token = await tokenOf(account, "Demo-Bulk-Pass");
    for (let i = 2; i <= 5; i++) {
      const r = await api("PUT", "/api/cloud-mail/forwarding", { address: `bulk11-${i}@example.org`, current_password: "Demo-Bulk-Pass" }, token);
      assert.ok(r.requested, `request ${i}: ${JSON.stringify(r)}`);
    }
    await page.getByLabel("転送先メールアドレス").fill("bulk11-6@example.org");
    await page.getByLabel("現在のパスワード").fill("Demo-Bulk-Pass");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /本日の申請回数の上限に達しました。明日以降にもう一度お試しください/);
    assert.match(page.url(), /#\/cloud-mail-forwarding$/);
    await shot(page, "forwarding-limit");
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, "forwarding-limit-phone");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `nothing wider than a phone (${overflow}px too wide)`);
    await page.getByRole("button", { name: "English" }).click();
    await shows(page, "#forward-notice", new RegExp(`a notice of the request to your own cloud mail \\(${own}\\)`));
    await page.getByLabel("Current password").waitFor();
    await shot(page, "forwarding-form-en-phone");
  });

  test("the initial password not changed: conferencing and forwarding are unavailable with the reason", async () => {
    const page = await login("0000000002", "Demo-Student-2");
    const nav = await page.locator("nav").innerText();
    assert.match(nav, /Web会議サービス[\s\S]*初期パスワードを変更してから利用してください/);
    assert.equal(await page.getByRole("link", { name: "Web会議サービス" }).count(), 0);
  });

  test("the lifecycle pages speak English too", async () => {
    const page = await openPage("#/activate");
    await page.getByRole("button", { name: "English" }).click();
    await page.getByRole("heading", { name: "Activate your account" }).waitFor();
    await page.getByLabel("Activation key").waitFor();
    await shot(page, "activate-en");
  });
});
