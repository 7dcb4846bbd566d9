// End-to-end tests of the findings of the usability run (issue 14), in headless Debian Chromium
// against `eccs-local serve --memory --demo`: a Shift_JIS file from Japanese Excel, the import
// columns and template, a language switch that keeps the form, pages that follow a success, rules
// checked before OK, session expiry, unavailable pages opened by their address, one date format a
// language, the help desk's view of keys, and the header on a phone.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { api, confirmOk, env, login, messageText, nextMinuteZero, openPage, root, setClock, shot, tokenOf } from "./harness.mjs";

const op = ["0000000009", "Demo-Operator-9"];
const HEADER = "id,kind,name_ja,name_en,department_code,department_ja,department_en,valid_from,valid_until";
const python = path.join(root, ".venv/bin/python");

/** Waits until `selector` shows text matching `pattern` (pages draw after their fetches). */
async function shows(page, selector, pattern) {
  await page.locator(selector).filter({ hasText: pattern }).first().waitFor();
  assert.match(await page.locator(selector).first().innerText(), pattern);
}

/** `text` encoded as Japanese Excel saves a CSV: Shift_JIS (Windows code page 932). */
function shiftJis(text) {
  return execFileSync(python, ["-c", "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read().decode('utf-8').encode('cp932'))"], { input: text });
}

/** The requests the page sends to `suffix` (with `method`), collected as they go. */
function requestsTo(page, suffix, method) {
  const sent = [];
  page.on("request", (r) => r.url().endsWith(suffix) && r.method() === method && sent.push(r));
  return sent;
}

/** Errors of the page other than the browser's log of a refused (401) request. */
const pageErrors = (page) => page.errors.filter((e) => !String(e).includes("status of 401"));

async function openImport(page) {
  await page.getByRole("link", { name: "アカウント取込" }).click();
  await page.getByLabel("ファイル（JSONL または CSV）").waitFor();
}

describe("import: the file's encoding, columns and template (issue 14 items 3 and 7)", () => {
  test("import: a Shift_JIS CSV from Japanese Excel is read as Shift_JIS and the names arrive intact", async () => {
    const csv = `${HEADER}\r\n2500000001,student,新入 花子,Hanako Shinnyu,D03,理学部,Faculty of Science,2026-04-01,2030-03-31\r\n`;
    const bytes = shiftJis(csv);
    assert.throws(() => new TextDecoder("utf-8", { fatal: true }).decode(bytes), "the fixture is not UTF-8");
    assert.ok(bytes.includes(Buffer.from([0x90, 0x56, 0x93, 0xfc])), "新入 in Shift_JIS bytes");
    const page = await login(...op);
    await openImport(page);
    await page.getByLabel("ファイル（JSONL または CSV）").setInputFiles({ name: "registrar-sjis.csv", mimeType: "text/csv", buffer: bytes });
    await shows(page, "#import-encoding", /Shift_JIS として読み込みました/);
    await page.getByRole("button", { name: "取り込む" }).click();
    assert.match(await page.getByRole("dialog").innerText(), /registrar-sjis\.csv（1 件、Shift_JIS）を取り込みます/);
    await confirmOk(page);
    assert.match(await messageText(page), /新規 1 件、更新 0 件、変更なし 0 件/);
    await shot(page, "import-shift-jis");
    const stored = await api("GET", "/api/admin/accounts/2500000001", null, await tokenOf(...op));
    assert.equal(stored.profile.name.ja, "新入 花子", "the name as written, not mojibake");
    assert.equal(stored.profile.department.ja, "理学部");
    await page.evaluate(() => (location.hash = "#/admin-accounts/2500000001"));
    await shows(page, "#lookup-facts", /新入 花子/);
    assert.deepEqual(page.errors, []);
  });

  test("import: a file in neither UTF-8 nor Shift_JIS is refused with a clear message and nothing is sent", async () => {
    const bytes = Buffer.concat([Buffer.from(`${HEADER}\n2500000002,student,`), Buffer.from([0xff, 0xfd, 0xfe]), Buffer.from(",X,D03,a,b,2026-04-01,2030-03-31\n")]);
    assert.throws(() => new TextDecoder("shift_jis", { fatal: true }).decode(bytes), "not Shift_JIS either");
    const page = await login(...op);
    await openImport(page);
    const sent = requestsTo(page, "/api/admin/accounts/import", "POST");
    await page.getByLabel("ファイル（JSONL または CSV）").setInputFiles({ name: "unknown.csv", mimeType: "text/csv", buffer: bytes });
    await page.getByRole("button", { name: "取り込む" }).click();
    assert.match(await messageText(page), /文字コードを判別できません。UTF-8 または Shift_JIS の CSV を選んでください/);
    assert.equal(await page.getByRole("dialog").isVisible(), false, "no confirmation for a file that cannot be read");
    assert.equal(sent.length, 0, "nothing sent");
    assert.equal(await page.locator("#import-encoding").innerText(), "");
    await shot(page, "import-unknown-encoding");
    await page.getByRole("button", { name: "English" }).click();
    await shows(page, "#messages", /Cannot tell the file's character encoding\. Choose a CSV in UTF-8 or Shift_JIS/);
    assert.equal(sent.length, 0);
  });

  test("import: the page lists the columns with their meaning and offers a template CSV in UTF-8 with a BOM", async () => {
    const page = await login(...op);
    await openImport(page);
    const columns = ["id", "kind", "name_ja", "name_en", "department_code", "department_ja", "department_en", "valid_from", "valid_until", "birth_date", "phone"];
    assert.deepEqual(await page.locator("#import-columns dt").allInnerTexts(), columns);
    const meanings = await page.locator("#import-columns dd").allInnerTexts();
    assert.equal(meanings.length, columns.length);
    assert.ok(meanings.every((m) => m.trim().length > 0 && !m.includes("\n")), "one line of meaning each");
    assert.match(meanings[9], /任意/, "birth_date is optional");
    assert.match(meanings[10], /任意/, "phone is optional");
    await shot(page, "import-columns");
    const download = page.waitForEvent("download");
    await page.getByRole("link", { name: "テンプレート（CSV）をダウンロード" }).click();
    const saved = await download;
    assert.match(saved.suggestedFilename(), /\.csv$/);
    const chunks = [];
    for await (const chunk of await saved.createReadStream()) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], "UTF-8 with a BOM, so that Excel reads it as UTF-8");
    const lines = bytes.subarray(3).toString("utf8").trim().split(/\r?\n/);
    assert.equal(lines.length, 2, "the header and one example row");
    assert.equal(lines[0], columns.join(","));
    // The example is one the server takes.
    const checked = await api("POST", "/api/admin/accounts/import", { format: "csv", data: `${lines.join("\n")}\n`, dry_run: true }, await tokenOf(...op));
    assert.equal(checked.checked, 1, JSON.stringify(checked));
    // And the template itself, BOM and all, imports from the page.
    await page.getByLabel("ファイル（JSONL または CSV）").setInputFiles({ name: "accounts-template.csv", mimeType: "text/csv", buffer: bytes });
    await shows(page, "#import-encoding", /UTF-8 として読み込みました/);
    await page.getByRole("button", { name: "取り込む" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /新規 1 件/);
    await page.getByRole("button", { name: "English" }).click();
    await shows(page, "#import-columns-title", /Columns of the file/);
    await page.getByRole("link", { name: "Download a template (CSV)" }).waitFor();
    // The keys are shown only once: a language switch keeps them on screen.
    assert.equal(await page.locator("#keys tbody tr").count(), 1);
    await shows(page, "#import-encoding", /Read as UTF-8/);
    await shows(page, "#messages", /Imported: 1 new, 0 updated, 0 unchanged/);
    await shot(page, "import-columns-en");
  });
});

describe("the language switch keeps the form (issue 14 item 8)", () => {
  test("activation: the account, the key, both passwords and the error stay across a language switch", async () => {
    const page = await openPage("#/activate");
    const values = { "#act-account": "1000000099", "#act-key": "AAAA-BBBB-CCCC-DDDD", "#act-new": "Vb6#pLw9-Qz2", "#act-again": "Vb6#pLw9-Qz2" };
    for (const [id, value] of Object.entries(values)) await page.locator(id).fill(value);
    await page.getByRole("button", { name: "有効化する" }).click();
    assert.match(await messageText(page), /アカウントまたは有効化キーに誤りがある/);
    await page.getByRole("button", { name: "English" }).click();
    await page.getByRole("heading", { name: "Activate your account" }).waitFor();
    for (const [id, value] of Object.entries(values)) assert.equal(await page.locator(id).inputValue(), value, `${id} kept`);
    await shows(page, "#messages", /The account or activation key is wrong/);
    await shot(page, "activate-error-en");
    await page.getByRole("button", { name: "日本語" }).click();
    await page.getByRole("heading", { name: "アカウントの有効化" }).waitFor();
    for (const [id, value] of Object.entries(values)) assert.equal(await page.locator(id).inputValue(), value, `${id} kept`);
    await shows(page, "#messages", /アカウントまたは有効化キーに誤りがある/);
    assert.deepEqual(pageErrors(page), []);
  });

  test("cloud mail: the typed address and its error stay across a language switch", async () => {
    const page = await login("1000000070", "Demo-Bulk-Pass");
    await page.getByRole("link", { name: "ECCS クラウドメール", exact: true }).click();
    await page.getByLabel("メールアドレス", { exact: true }).fill("ab");
    await page.getByRole("button", { name: "保存" }).click();
    assert.match(await messageText(page), /3文字以上にしてください/);
    await page.getByRole("button", { name: "English" }).click();
    await page.getByLabel("Mail address", { exact: true }).waitFor();
    assert.equal(await page.getByLabel("Mail address", { exact: true }).inputValue(), "ab");
    await shows(page, "#messages", /The address does not meet the rules/);
    assert.match(await page.locator("#messages").innerText(), /Use at least 3 characters/);
    await shot(page, "cloud-mail-address-error-en");
  });

  test("remote access: a chosen radio button stays chosen across a language switch", async () => {
    const page = await login("1000000078", "Demo-Bulk-Pass");
    await page.getByRole("link", { name: "リモートアクセス環境 利用申請" }).click();
    await page.getByLabel("利用する", { exact: true }).check();
    await page.getByRole("button", { name: "English" }).click();
    await page.getByLabel("Use", { exact: true }).waitFor();
    assert.ok(await page.getByLabel("Use", { exact: true }).isChecked(), "the choice is kept");
  });
});

describe("pages follow a success (issue 14 item 9)", () => {
  test("usage application: after success the page shows the new state, not the 申請 button again", async () => {
    const page = await login("0000000007", "Demo-Staff-7");
    await page.getByRole("link", { name: "ECCS利用申請", exact: true }).click();
    await page.getByRole("button", { name: "申請" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /申請が完了しました/);
    await shows(page, "#unavailable-reason", /既にECCS利用権が有効です/);
    assert.equal(await page.locator("#view").getByRole("button", { name: "申請" }).count(), 0, "no second application to get a 409");
    await shot(page, "apply-usage-followed");
  });

  test("cloud-mail address: after saving, the field and the page show the pending address", async () => {
    const page = await login("1000000071", "Demo-Bulk-Pass");
    await page.getByRole("link", { name: "ECCS クラウドメール", exact: true }).click();
    await page.getByLabel("メールアドレス", { exact: true }).fill("taro.yamada160");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), new RegExp(`taro\\.yamada160@g\\.ecc\\.u-tokyo\\.ac\\.jp への変更は毎時0分に反映されます（${nextMinuteZero()} に反映されます）`));
    await shows(page, "#view", new RegExp(`taro\\.yamada160@g\\.ecc\\.u-tokyo\\.ac\\.jp に変更予定です（${nextMinuteZero()} に反映されます）`));
    assert.equal(await page.getByLabel("メールアドレス", { exact: true }).inputValue(), "taro.yamada160", "the field shows what was saved");
    assert.match(await page.locator("#current-address").innerText(), /^1000000071@/, "the current address until minute 0");
    await shot(page, "cloud-mail-address-followed");
  });
});

describe("rules checked before OK (issue 14 item 10)", () => {
  test("cloud-mail address: the rules are checked before the confirmation; the server still decides the rest", async () => {
    const page = await login("1000000072", "Demo-Bulk-Pass");
    await page.getByRole("link", { name: "ECCS クラウドメール", exact: true }).click();
    const sent = requestsTo(page, "/api/cloud-mail/address", "PUT");
    const input = page.getByLabel("メールアドレス", { exact: true });
    for (const [typed, rules] of [
      ["-ta..ro", ["先頭と末尾は英数字にしてください", "「..」は使えません"]],
      ["１２３４５６７", ["数字だけのアドレスは使えません"]],
      ["taro yamada", ["英小文字・数字・「. _ -」だけを使ってください"]],
    ]) {
      await input.fill(typed);
      await page.getByRole("button", { name: "保存" }).click();
      const text = await messageText(page);
      assert.match(text, /メールアドレスが規則を満たしていません/);
      for (const rule of rules) assert.ok(text.includes(rule), `${typed}: ${rule} in ${text}`);
      assert.equal(await page.getByRole("dialog").isVisible(), false, `${typed}: no confirmation`);
    }
    await shot(page, "cloud-mail-address-rules-first");
    assert.equal(sent.length, 0, "nothing sent for a rule the page can check");
    // A reserved name passes what the page checks: the server refuses it after OK.
    await input.fill("postmaster");
    await page.getByRole("button", { name: "保存" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /予約されている名前です/);
    assert.equal(sent.length, 1);
  });

  test("passwords: the policy's form is checked before the confirmation; the server still decides the rest", async () => {
    const page = await login("1000000073", "Demo-Bulk-Pass");
    await page.getByRole("link", { name: "ECCS クラウドメール（パスワード変更）" }).click();
    const sent = requestsTo(page, "/api/cloud-mail/password", "PUT");
    await page.getByLabel("現在のパスワード", { exact: true }).fill("Demo-Bulk-Pass");
    const set = async (password) => {
      await page.getByLabel("新しいパスワード", { exact: true }).fill(password);
      await page.getByLabel("新しいパスワード（確認）", { exact: true }).fill(password);
      await page.getByRole("button", { name: "保存" }).click();
    };
    await set("todai");
    let text = await messageText(page);
    for (const rule of ["パスワードがポリシーを満たしていません", "8文字以上", "英大文字", "数字を1文字以上"]) assert.ok(text.includes(rule), `${rule} in ${text}`);
    assert.equal(await page.getByRole("dialog").isVisible(), false, "no confirmation");
    await set("Kx7#mQ2v Rt'9");
    text = await messageText(page);
    assert.match(text, /使えない文字が含まれています/);
    assert.doesNotMatch(text, /8文字以上/);
    assert.equal(await page.getByRole("dialog").isVisible(), false, "no confirmation");
    await shot(page, "cloud-mail-password-rules-first");
    assert.equal(sent.length, 0, "nothing sent for a rule the page can check");
    await set("Password1");
    await confirmOk(page);
    assert.match(await messageText(page), /辞書の単語やよく使われるパスワードは使えません/);
    assert.equal(sent.length, 1);
  });
});

describe("session expiry (issue 14 item 11)", () => {
  test("an expired session mid-action: no page error, the login says so, the next login returns to the page", async () => {
    const page = await login("1000000074", "Demo-Bulk-Pass");
    await page.getByRole("link", { name: "リモートアクセス環境 利用申請" }).click();
    await page.getByLabel("利用する", { exact: true }).check();
    await setClock(new Date(Date.now() + 31 * 60e3).toISOString());
    try {
      await page.getByRole("button", { name: "保存" }).click();
      await confirmOk(page);
      await page.waitForURL(/#\/login$/);
      assert.match(await messageText(page), /セッションの有効期限が切れました/);
      await shot(page, "session-expired-mid-action");
      await page.getByLabel("アカウント", { exact: true }).fill("1000000074");
      await page.getByLabel("パスワード", { exact: true }).fill("Demo-Bulk-Pass");
      await page.getByRole("button", { name: "ログイン" }).click();
      await page.waitForURL(/#\/remote-access$/);
      await page.getByLabel("利用する", { exact: true }).waitFor();
      await shot(page, "session-expired-returned");
    } finally {
      await setClock(null);
    }
    // The browser logs the refused request; nothing else may go wrong (no unhandled rejection).
    assert.deepEqual(pageErrors(page), []);
  });

  test("after an expiry another person's login goes to their own top page", async () => {
    const page = await login("1000000079", "Demo-Bulk-Pass");
    await page.getByRole("link", { name: "Web会議サービス" }).click();
    await page.locator("#conf-state").waitFor();
    await setClock(new Date(Date.now() + 31 * 60e3).toISOString());
    try {
      await page.getByRole("link", { name: "申請履歴" }).click();
      await page.waitForURL(/#\/login$/);
      assert.match(await messageText(page), /セッションの有効期限が切れました/);
      await page.getByLabel("アカウント", { exact: true }).fill("1000000080");
      await page.getByLabel("パスワード", { exact: true }).fill("Demo-Bulk-Pass");
      await page.getByRole("button", { name: "ログイン" }).click();
      await page.waitForURL(/#\/menu$/);
    } finally {
      await setClock(null);
    }
    assert.deepEqual(pageErrors(page), []);
  });
});

describe("unavailable pages, dates, menus, lockout (issue 14 item 12)", () => {
  const go = (page, hash) => page.evaluate((h) => (location.hash = h), hash);

  test("a page opened by its address that is not available says why instead of drawing an empty form", async () => {
    const faculty = await login("0000000003", "Demo-Faculty-3");
    await go(faculty, "#/remote-access");
    await shows(faculty, "#unavailable-reason", /ECCS利用権が有効な方のみ利用できます/);
    assert.equal(await faculty.locator("#view form").count(), 0, "no form");
    await shot(faculty, "unavailable-remote-access");
    const student = await login("0000000002", "Demo-Student-2");
    for (const hash of ["#/cloud-mail-address", "#/cloud-mail", "#/cloud-mail-password", "#/conferencing", "#/cloud-mail-forwarding"]) {
      await go(student, hash);
      await shows(student, "#unavailable-reason", /初期パスワードを変更してから利用してください/);
      assert.equal(await student.locator("#view form").count(), 0, `${hash}: no form`);
    }
    await shot(student, "unavailable-cloud-mail");
    await go(student, "#/apply-usage");
    await shows(student, "#unavailable-reason", /教職員の方のみ申請できます/);
    await go(student, "#/admin-import");
    await shows(student, "#unavailable-reason", /ヘルプデスクの方のみ利用できます/);
    await student.getByRole("button", { name: "English" }).click();
    await shows(student, "#unavailable-reason", /For the help desk only/);
    assert.deepEqual(pageErrors(student), []);
  });

  test("one date format per language, the same everywhere: ja 2026/12/02 07:30 and 2027/01/10, en 2026-12-02 07:30 and 2027-01-10", async () => {
    const token = await tokenOf("0000000004", "Demo-Faculty-4");
    const tomorrow = new Date(Date.now() + 9 * 3600e3 + 24 * 3600e3).toISOString().slice(0, 10);
    const applied = await api("POST", "/api/applications", { type: "eccs_suspension", stop_date: tomorrow }, token);
    assert.equal(applied.effective_on, tomorrow, JSON.stringify(applied));
    const page = await login("0000000004", "Demo-Faculty-4");
    await page.getByRole("link", { name: "申請履歴" }).click();
    const row = page.locator("tbody tr").first();
    await row.waitFor();
    const ja = tomorrow.replaceAll("-", "/");
    assert.equal(await row.locator("td").nth(4).innerText(), ja);
    assert.match(await row.locator("td").nth(5).innerText(), /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}$/);
    await page.getByRole("link", { name: "トップページ" }).click();
    await shows(page, "#view", new RegExp(`${ja} に停止されます`));
    assert.match(await page.locator("#view").innerText(), /ECCS利用権: 有効（\d{4}\/\d{2}\/\d{2} まで）/);
    await page.getByRole("button", { name: "English" }).click();
    await shows(page, "#view", new RegExp(`valid \\(until \\d{4}-\\d{2}-\\d{2}\\) — stops on ${tomorrow}`));
    await page.getByRole("link", { name: "Application history" }).click();
    await page.locator("tbody tr").first().waitFor();
    assert.equal(await row.locator("td").nth(4).innerText(), tomorrow);
    assert.match(await row.locator("td").nth(5).innerText(), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
    await shot(page, "history-en");
  });

  test("students do not see the application menu; faculty and staff do", async () => {
    const student = await login("0000000001", "Demo-Student-1");
    const nav = await student.locator("nav").innerText();
    assert.doesNotMatch(nav, /ECCS申請メニュー/);
    assert.doesNotMatch(nav, /ECCS利用申請/);
    assert.match(nav, /リモートアクセス環境 利用申請/);
    await shot(student, "top-student-no-application-menu");
    for (const [account, password] of [["0000000003", "Demo-Faculty-3"], ["0000000005", "Demo-Staff-5"]]) {
      const page = await login(account, password);
      assert.match(await page.locator("nav").innerText(), /ECCS申請メニュー[\s\S]*ECCS利用申請/, account);
    }
  });

  test("the activation page's lockout speaks of attempts, with the minutes to wait", async () => {
    const account = "1000000075";
    for (let i = 0; i < 5; i++) {
      const r = await api("POST", "/api/activation", { account, activation_key: "AAAA-BBBB-CCCC-DDDD", password: "Vb6#pLw9-Qz2" });
      assert.equal(r.error.code, "invalid_activation_key");
    }
    const page = await openPage("#/activate");
    await page.locator("#act-account").fill(account);
    await page.locator("#act-key").fill("AAAA-BBBB-CCCC-DDDD");
    await page.locator("#act-new").fill("Vb6#pLw9-Qz2");
    await page.locator("#act-again").fill("Vb6#pLw9-Qz2");
    await page.getByRole("button", { name: "有効化する" }).click();
    const text = await messageText(page);
    assert.match(text, /^失敗が続いたため、しばらく試せません（\d+ 分後に再試行）$/);
    assert.doesNotMatch(text, /ログイン/);
    await shot(page, "activate-locked-out");
    await page.getByRole("button", { name: "English" }).click();
    await shows(page, "#messages", /^Too many failed attempts; try again in \d+ minutes$/);
  });
});

describe("the help desk sees the keys as they are (issue 14 item 6)", () => {
  test("lookup: an expired reset key reads expired, with the extend panel; extended, it reads issued", async () => {
    const account = "1000000076";
    // A reset key issued 31 days ago (keys are valid for 30): the server's clock set back for it.
    await setClock(new Date(Date.now() - 31 * 24 * 3600e3).toISOString());
    let issued;
    try {
      issued = await api("POST", `/api/admin/accounts/${account}/activation-key`, { action: "issue", in_person_check: { document: "student_id_card" } }, await tokenOf(...op));
    } finally {
      await setClock(null);
    }
    assert.ok(new Date(issued.expires_at) < new Date(), `expired: ${JSON.stringify(issued)}`);
    const page = await login(...op);
    await page.evaluate((a) => (location.hash = `#/admin-accounts/${a}`), account);
    await shows(page, "#lookup-activation", /有効化済み/);
    const key = await page.locator("#lookup-key").innerText();
    assert.match(key, /^有効化キーの期限切れ（\d{4}\/\d{2}\/\d{2} \d{2}:\d{2} まで）/);
    assert.doesNotMatch(key, /発行済み/);
    await page.getByRole("heading", { name: "有効化キーの期限延長" }).waitFor();
    await shot(page, "lookup-key-expired");
    await page.getByRole("button", { name: "English" }).click();
    await shows(page, "#lookup-key", /^Activation key expired \(\d{4}-\d{2}-\d{2} \d{2}:\d{2}\)/);
    await page.getByRole("button", { name: "日本語" }).click();
    await page.getByLabel("延長する日数（1〜90）").fill("30");
    await page.getByRole("button", { name: "延長" }).click();
    await confirmOk(page);
    assert.match(await messageText(page), /延長しました/);
    await shows(page, "#lookup-key", /^有効化キー発行済み（\d{4}\/\d{2}\/\d{2} \d{2}:\d{2} まで有効）・パスワード再発行用/);
    await shot(page, "lookup-reset-key-extended");
  });

  test("lookup: an activated account with a fresh reset key shows the key and the extend panel", async () => {
    const account = "1000000077";
    const issued = await api("POST", `/api/admin/accounts/${account}/activation-key`, { action: "issue", in_person_check: { document: "passport" } }, await tokenOf(...op));
    assert.ok(issued.activation_key, JSON.stringify(issued));
    const page = await login(...op);
    await page.evaluate((a) => (location.hash = `#/admin-accounts/${a}`), account);
    await shows(page, "#lookup-activation", /有効化済み/);
    assert.match(await page.locator("#lookup-key").innerText(), /^有効化キー発行済み（.* まで有効）・パスワード再発行用$/);
    await page.getByRole("heading", { name: "有効化キーの期限延長" }).waitFor();
  });
});

describe("phone (issue 14)", () => {
  /** The header at 390×844: the title not a character a line, ログアウト on one line, nothing too wide. */
  async function headerFits(page) {
    const title = await page.locator("#title").boundingBox();
    const logout = await page.getByRole("button", { name: "ログアウト" }).boundingBox();
    const lineHeight = await page.getByRole("button", { name: "ログアウト" }).evaluate((b) => parseFloat(getComputedStyle(b).lineHeight));
    assert.ok(logout.height < lineHeight * 2, `ログアウト on one line (${logout.height}px for a ${lineHeight}px line)`);
    assert.ok(title.width > 150, `the title is not a column of characters (${title.width}px wide)`);
    assert.ok(title.height < 70, `the title takes at most two lines (${title.height}px)`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `nothing wider than a phone (${overflow}px too wide)`);
  }

  test("phone: the header keeps the title readable and ログアウト on one line (top, cloud mail, help-desk lookup)", async () => {
    const person = await login("1000000081", "Demo-Bulk-Pass");
    await person.setViewportSize({ width: 390, height: 844 });
    await person.getByRole("heading", { name: /学生 一括/ }).waitFor();
    await headerFits(person);
    await shot(person, "phone-top");
    await person.getByRole("link", { name: "ECCS クラウドメール", exact: true }).click();
    await person.getByLabel("メールアドレス", { exact: true }).waitFor();
    await headerFits(person);
    await shot(person, "phone-cloud-mail-address");
    const desk = await login(...op);
    await desk.setViewportSize({ width: 390, height: 844 });
    await desk.evaluate(() => (location.hash = "#/admin-accounts/0000000001"));
    await shows(desk, "#lookup-facts", /東大 太郎/);
    await headerFits(desk);
    await shot(desk, "phone-lookup");
  });
});
