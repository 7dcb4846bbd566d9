// The e2e harness: `eccs-local serve --memory --demo` on a free port with mail going to an SMTP
// sink (aiosmtpd from .venv/, a Maildir read with Python's email package), headless Debian
// Chromium through playwright-core, and the helpers every test file shares.

import { after, before } from "node:test";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { Socket, createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const screens = path.join(root, "test-output", "screens");
mkdirSync(screens, { recursive: true });
const python = path.join(root, ".venv/bin/python");

/** What the current file's tests run against: filled in by `before`. */
export const env = { base: null, browser: null, maildir: null, issuer: null };
let server;
let smtp;
let provider;

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(check, what) {
  for (let i = 0; i < 150; i++) {
    try {
      if (await check()) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not start`);
}

function listening(port) {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.connect(port, "127.0.0.1");
  });
}

export async function api(method, pathname, body, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(`${env.base}${pathname}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  return r.json();
}

const JST = new Intl.DateTimeFormat("en-US", {
  timeZone: "Asia/Tokyo", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", hourCycle: "h23",
});
const jstParts = (t) => Object.fromEntries(JST.formatToParts(new Date(t)).map((p) => [p.type, p.value]));

/**
 * The next minute 0 (when a cloud-mail change takes effect) as the Japanese UI shows it, for a
 * RegExp: "15:00" when it falls on the day the page was drawn in Japan, else "2026/12/04 00:00".
 * The change was saved and the page drawn at most two minutes ago: each hour that window allows
 * is accepted, in the form of each day the page could have been drawn on.
 */
export function nextMinuteZero() {
  const now = Date.now();
  const dayOf = (t) => { const p = jstParts(t); return `${p.year}/${p.month}/${p.day}`; };
  const shown = new Set();
  // Saved at t, drawn between t and now: on t's day or on today's.
  for (const t of [now - 120e3, now]) {
    const next = (Math.floor(t / 3600e3) + 1) * 3600e3;
    const [day, time] = [dayOf(next), `${jstParts(next).hour}:00`];
    for (const drawn of new Set([dayOf(t), dayOf(now)])) shown.add(drawn === day ? time : `${day} ${time}`);
  }
  return `(?:${[...shown].join("|")})`;
}

export async function setClock(now) {
  await api("POST", "/_local/clock", { now });
}

export async function tokenOf(account, password) {
  return (await api("POST", "/api/session", { realm: "utokyo", account, password })).token;
}

before(async () => {
  env.maildir = mkdtempSync(path.join(os.tmpdir(), "eccs-e2e-mail-"));
  const smtpPort = await freePort();
  smtp = spawn(python, ["-m", "aiosmtpd", "-n", "-l", `127.0.0.1:${smtpPort}`, "-c", "aiosmtpd.handlers.Mailbox", path.join(env.maildir, "box")], { stdio: "ignore" });
  await waitFor(() => listening(smtpPort), "aiosmtpd");
  // The identity verification provider (R-CRED-4): node-oidc-provider, its own sign-in pages.
  provider = spawn(process.execPath, [path.join(root, "tests/oidc/provider.mjs")], { env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "ignore"] });
  env.issuer = await new Promise((resolve, reject) => {
    let out = "";
    provider.stdout.on("data", (chunk) => {
      out += chunk;
      if (out.includes("\n")) resolve(JSON.parse(out.split("\n")[0]).issuer);
    });
    provider.once("exit", () => reject(new Error("the OpenID provider did not start")));
  });
  const port = await freePort();
  env.base = `http://127.0.0.1:${port}`;
  server = spawn(path.join(root, "target/debug/eccs-local"), ["serve", "--memory", "--demo", "--addr", `127.0.0.1:${port}`, "--smtp", `smtp://127.0.0.1:${smtpPort}`, "--oidc-issuer", env.issuer], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  await waitFor(async () => (await fetch(`${env.base}/api/health`)).ok, "eccs-local");
  env.browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await env.browser?.close();
  server?.kill();
  smtp?.kill();
  provider?.kill();
  if (env.maildir) rmSync(env.maildir, { recursive: true, force: true });
});

const READ_MAILDIR = `
import email.header, json, mailbox, sys
out = []
for m in mailbox.Maildir(sys.argv[1], create=False):
    part = next(p for p in m.walk() if p.get_content_type() == "text/plain")
    out.append({
        "to": m["To"],
        "subject": str(email.header.make_header(email.header.decode_header(m["Subject"]))),
        "body": part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8"),
    })
print(json.dumps(out))
`;

/** The mail the sink has for `to`, waiting (up to 10 s) until there are at least `count`. */
export async function mailTo(to, count = 1) {
  let found = [];
  await waitFor(() => {
    const all = JSON.parse(execFileSync(python, ["-c", READ_MAILDIR, path.join(env.maildir, "box")], { encoding: "utf8" }));
    found = all.filter((m) => m.to.includes(to));
    return found.length >= count;
  }, `mail to ${to}`);
  return found;
}

/** A fresh browser context (its own sessionStorage) on a page of the UI, not logged in. */
export async function openPage(hash = "#/login") {
  const context = await env.browser.newContext({ locale: "ja-JP", timezoneId: "Asia/Tokyo", acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  // The UI's errors; not those of other origins (the identity provider's own pages ask for a web
  // font from the internet, which this machine does not reach, and for a favicon it lacks).
  const ours = (url) => !url || url.startsWith(env.base);
  page.on("console", (m) => m.type() === "error" && ours(m.location().url) && errors.push(m.text()));
  page.errors = errors;
  await page.goto(`${env.base}/${hash}`);
  return page;
}

/** A fresh browser context, logged in as `account`. */
export async function login(account, password, realm = "utokyo") {
  const page = await openPage("#/login");
  if (realm === "workshop") await page.getByLabel("講習会アカウント").check();
  await page.getByLabel("アカウント", { exact: true }).fill(account);
  await page.getByLabel("パスワード", { exact: true }).fill(password);
  await page.getByRole("button", { name: "ログイン" }).click();
  await page.waitForURL(/#\/(menu|workshop)/);
  return page;
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(screens, `${name}.png`), fullPage: true });
}

export async function confirmOk(page) {
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  await shot(page, `${new URL(page.url()).hash.replace(/^#\//, "").replaceAll("/", "-") || "top"}-confirm`);
  await dialog.getByRole("button", { name: "OK" }).click();
}

export async function messageText(page) {
  const box = page.locator("#messages");
  await box.locator("p").first().waitFor();
  return box.innerText();
}
