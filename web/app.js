// The ECCS account service UI: the manual's three entry points (user menu, application menu,
// workshop password) as one page, with the lifecycle pages of lifecycle.js (activation, mailed
// links, conferencing, forwarding, and the help desk's import, lookup and runs) and the credential
// pages of credentials.js (password, sign-in activity, two-step verification and the login's code
// step). Every action follows the manual's flow: edit → 保存/申請 →
// a confirmation dialog (OK) → a completion message. The token lives in sessionStorage only and
// goes out as a bearer header; nothing is written with innerHTML.

import { TEXT } from "./i18n.js";
import { lifecycleViews } from "./lifecycle.js";
import { credentialViews } from "./credentials.js";

const state = {
  lang: sessionStorage.getItem("lang") === "en" ? "en" : "ja",
  token: sessionStorage.getItem("token"),
  expiresAt: sessionStorage.getItem("expires_at"),
  me: null,
  expiryTimer: null,
  // A message to show once the next page is drawn (after a redirect to the login).
  flash: null,
  // The message on screen, as thunks, so that a language switch can say it again in the other.
  lastMessage: null,
  // True while the page is drawn again for a language switch (pages may keep what they showed).
  relang: false,
  // A login waiting for its second factor (R-CRED-3): {challenge, expires_at}, in memory only.
  challenge: null,
  // The query of the hash route, for the page it leads to (see takeHashQuery).
  hashQuery: null,
};

const $ = (id) => document.getElementById(id);

function t(key, ...args) {
  const value = key.split(".").reduce((o, k) => (o == null ? o : o[k]), TEXT[state.lang]);
  return typeof value === "function" ? value(...args) : value ?? key;
}

/** Builds an element: el("p", { class: "hint" }, "text", child). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c != null && c !== false) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

/** The server's "日本語 / English" message, in the chosen language. */
function localized(message) {
  const [ja, en] = String(message ?? "").split(" / ");
  return state.lang === "en" && en ? en : ja;
}

// One date format a language, everywhere (dates of the API and instants alike):
// ja 2026/12/02 07:30 and 2027/01/10; en 2026-12-02 07:30 and 2027-01-10.
const JST_PARTS = new Intl.DateTimeFormat("en-US", {
  timeZone: "Asia/Tokyo", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});

function jstParts(d) {
  const parts = Object.fromEntries(JST_PARTS.formatToParts(d).map((p) => [p.type, p.value]));
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` };
}

/** A date of the API (YYYY-MM-DD) in the language's format: 2027/01/10 or 2027-01-10. */
function day(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(value ?? ""));
  if (!m) return value ?? "";
  return state.lang === "en" ? `${m[1]}-${m[2]}-${m[3]}` : `${m[1]}/${m[2]}/${m[3]}`;
}

/** An instant of the API (RFC 3339) as a JST time: "15:00" today, else with its date (as `day`). */
function jst(instant, withDate = false) {
  const p = jstParts(new Date(instant));
  if (!withDate && p.date === jstParts(new Date()).date) return p.time;
  return `${day(p.date)} ${p.time}`;
}

// ------------------------------------------------------------------ messages and dialogs

// Any form sent clears the previous answer first.
document.addEventListener("submit", () => clearMessage(), true);

const valueOf = (x) => (typeof x === "function" ? x() : x);

/** Draws state.lastMessage in the current language. */
function paintMessage() {
  const box = $("messages");
  const m = state.lastMessage;
  if (!m) {
    box.className = "messages";
    box.replaceChildren();
    return;
  }
  const items = valueOf(m.items) ?? [];
  box.className = `messages ${m.kind}`;
  box.replaceChildren(el("p", {}, valueOf(m.text)));
  if (items.length) box.append(el("ul", {}, items.map((i) => el("li", {}, i))));
}

/** Shows a message; `text` and `items` may be functions, so a language switch can say them again. */
function message(kind, text, items = []) {
  state.lastMessage = { kind, text, items };
  paintMessage();
  $("messages").focus();
}

function clearMessage() {
  state.lastMessage = null;
  paintMessage();
}

/** The manual's confirmation step: resolves true on OK. */
function confirmStep(text) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    $("confirm-ok").focus();
  });
}

const minutesOf = (seconds) => Math.max(1, Math.ceil((seconds ?? 60) / 60));

/**
 * An API error as a message, with the details a person needs to fix it (and `extra` lines, a
 * function of the language too). Said again in the other language after a switch.
 */
function showError(error, extra = () => []) {
  const code = error?.code;
  const details = error?.details ?? {};
  // A reset always needs the in-person check now (R-LC-4): the UI's sentence, not one about the link.
  if (code === "identity_verification_required") return message("error", () => t("in_person_required"), extra);
  // Not only logins are locked out (activation keys, current passwords): the UI's sentence says "attempts".
  if (code === "too_many_attempts") return message("error", () => t("too_many_attempts", minutesOf(details.retry_after)), extra);
  const items = () => {
    let out = [];
    if (code === "password_policy") out = (details.violations ?? []).map((v) => t(`violations.${v}`));
    if (code === "invalid_address") out = (details.reasons ?? []).map((r) => t(`address_reasons.${r}`));
    if (code === "change_too_soon" && details.next_change_allowed_at) out = [t("cma_next", jst(details.next_change_allowed_at, true))];
    return [...out, ...extra()];
  };
  const intro = () => (code === "password_policy" ? `${localized(error.message)} ${t("violations_intro")}` : localized(error?.message));
  message("error", intro, items);
}

// ------------------------------------------------------------------ checks before asking OK
// What the browser can check of the server's rules, checked before the confirmation; the server
// still decides (reserved names, the personal data and the dictionary are its alone).

/** R-CMA-1: the codes the server would give for the local part (typed as the server reads it). */
function addressProblems(typed, domain) {
  let local = typed.normalize("NFKC").trim();
  const reasons = [];
  const at = local.lastIndexOf("@");
  if (at >= 0) {
    if (local.slice(at + 1).toLowerCase() !== domain.toLowerCase()) reasons.push("wrong_domain");
    local = local.slice(0, at);
  }
  local = local.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const length = [...local].length;
  if (length < 3) reasons.push("too_short");
  if (length > 64) reasons.push("too_long");
  if (!/^[a-z0-9._-]*$/.test(local)) reasons.push("invalid_character");
  if (!/^[a-z0-9]/.test(local) || !/[a-z0-9]$/.test(local)) reasons.push("must_start_and_end_with_letter_or_digit");
  if (local.includes("..")) reasons.push("consecutive_dots");
  if (/^[0-9]+$/.test(local)) reasons.push("all_digits");
  return { local, reasons };
}

/** R-PWD-1: the codes the server would give for the form of a password (never altered). */
function passwordProblems(password) {
  const length = [...password].length;
  const out = [];
  if (length < 8) out.push("too_short");
  if (length > 64) out.push("too_long");
  if (!/[A-Z]/.test(password)) out.push("missing_uppercase");
  if (!/[a-z]/.test(password)) out.push("missing_lowercase");
  if (!/[0-9]/.test(password)) out.push("missing_digit");
  if (!/^[\x21-\x7e]*$/.test(password) || /["'\\]/.test(password)) out.push("invalid_character");
  return out;
}

// ------------------------------------------------------------------ the API

// The API a person reaches without logging in: a 401 there is an answer, not an ended session.
const OPEN_API = new Set(["/api/session", "/api/session/second-factor", "/api/activation", "/api/services/conferencing/accept", "/api/cloud-mail/forwarding/confirm"]);

/** What the API throws once it has dealt with a failure itself (an ended session, no network). */
const handled = (what) => Object.assign(new Error(what), { handled: true });

// An action cut short by an ended session or a lost network has already said so on the page:
// its rejected promise is not an error of the page.
window.addEventListener("unhandledrejection", (e) => {
  if (e.reason?.handled) e.preventDefault();
});

async function api(method, path, body) {
  const headers = { accept: "application/json" };
  const open = OPEN_API.has(path);
  if (state.token && !open) headers.authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    message("error", () => t("network_error"));
    throw handled("network");
  }
  const json = await response.json().catch(() => ({}));
  // A wrong current password given with a change (R-SEC-1) is an answer for the form; any other
  // 401 (no token, an expired one, a locked account's) ends the session.
  if (response.status === 401 && !open && json?.error?.code !== "invalid_credentials") {
    endSession("session_expired");
    throw handled("session");
  }
  return { status: response.status, ok: response.ok, body: json };
}

/**
 * Runs an action: on an error answer, shows it and returns null. `reauth` marks a body that
 * carries the current password under another name (the second factor's removal: `password`).
 */
async function act(method, path, body, { reauth = false } = {}) {
  const r = await api(method, path, body);
  if (!r.ok) {
    // Only the changes that carry the current password (R-SEC-1) answer invalid_credentials here.
    if (r.body.error?.code === "invalid_credentials" && (reauth || body?.current_password !== undefined)) message("error", () => t("current_password_wrong"));
    else showError(r.body.error);
    return null;
  }
  return r.body;
}

// ------------------------------------------------------------------ session

function startSession(token, expiresAt) {
  state.token = token;
  state.expiresAt = expiresAt;
  sessionStorage.setItem("token", token);
  sessionStorage.setItem("expires_at", expiresAt);
  armExpiry();
}

function armExpiry() {
  clearTimeout(state.expiryTimer);
  if (!state.expiresAt) return;
  const left = new Date(state.expiresAt).getTime() - Date.now();
  state.expiryTimer = setTimeout(() => endSession("session_expired"), Math.max(0, Math.min(left, 2 ** 31 - 1)));
}

const routeOf = (hash) => hash.replace(/^#\//, "").split(/[/?]/)[0];

/** A query in the hash (`#/identity-link?linked=1`, where the identity provider's round trip
 * ends) is read into state.hashQuery for the page and dropped from the address bar at once. */
function takeHashQuery() {
  const at = location.hash.indexOf("?");
  if (at < 0) return;
  // Kept for its own page: a session that ended meanwhile shows the login first, and the
  // result waits for the page it belongs to.
  state.hashQuery = { route: routeOf(location.hash), params: new URLSearchParams(location.hash.slice(at + 1)) };
  history.replaceState(null, "", location.pathname + location.search + location.hash.slice(0, at));
}

// Endings the person asked for (a logout, a password change): said as a success.
const OK_ENDINGS = new Set(["logged_out", "password_changed"]);

/** Ends the session with `reason` (a message key); an expired one remembers where the person was. */
function endSession(reason) {
  clearTimeout(state.expiryTimer);
  if (reason === "session_expired" && state.token && location.hash && !(routeOf(location.hash) in PUBLIC)) {
    sessionStorage.setItem("return_to", JSON.stringify({ account: state.me?.profile.account ?? null, hash: location.hash }));
  }
  state.token = null;
  state.me = null;
  sessionStorage.removeItem("token");
  sessionStorage.removeItem("expires_at");
  state.challenge = null;
  state.flash = { kind: OK_ENDINGS.has(reason) ? "ok" : "error", text: () => t(reason) };
  if (location.hash === "#/login") render();
  else location.hash = "#/login";
}

/** Where to go after a login: back to the page the session expired on, for the same person. */
function returnRoute(account) {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem("return_to") ?? "null");
  } catch {}
  sessionStorage.removeItem("return_to");
  if (!saved?.hash || (saved.account && saved.account !== account)) return null;
  return saved.hash;
}

async function loadMe() {
  const r = await api("GET", "/api/me");
  state.me = r.ok ? r.body : null;
  return state.me;
}

// ------------------------------------------------------------------ frame: header and menus

// [text, route, the /api/me menu that says whether it is available (by default the text's key)].
// Conferencing and forwarding are for holders of a cloud-mail address, like its other pages.
const MENU = [
  {
    group: "user_menu",
    items: [["remote_access", "remote-access"], ["cloud_mail_address", "cloud-mail"], ["cloud_mail_password", "cloud-mail-password"],
      ["forwarding", "cloud-mail-forwarding", "cloud_mail_address"], ["conferencing", "conferencing", "cloud_mail_address"], ["identity_link", "identity-link", null],
      // R-CRED-1..3: open to everyone of the university, the initial password not changed too.
      ["account_password", "account-password", null], ["sign_ins", "sign-ins", null], ["two_step", "two-step", null]],
  },
  { group: "application_menu", items: [["eccs_usage", "apply-usage"], ["eccs_suspension", "apply-suspension"], ["eccs_proxy", "apply-proxy"]] },
];
const OPERATOR_MENU = [["settings", "settings"], ["import_title", "admin-import"], ["lookup_title", "admin-accounts"], ["runs", "admin-runs"]];

/** The application menu is for faculty and staff only (R-MENU-3): others do not see it at all. */
const APPLICANT_KINDS = new Set(["faculty", "staff"]);

// What a page of the menu needs: its title and the /api/me menu that says whether it is open.
const PAGE_MENU = {};
const PAGE_TITLE = {};
for (const { items } of MENU) {
  for (const [key, to, menu = key] of items) {
    PAGE_TITLE[to] = key;
    if (menu) PAGE_MENU[to] = menu;
  }
}
for (const [key, to] of OPERATOR_MENU) PAGE_TITLE[to] = key;
const OPERATOR_PAGES = new Set(OPERATOR_MENU.map(([, to]) => to));

/** Why `route` is not open to the person (the menu's reason code), or null when it is. */
function unavailableReason(route) {
  const me = state.me;
  if (!me || me.profile.realm === "workshop") return null;
  if (OPERATOR_PAGES.has(route) && !me.profile.operator) return "operator_required";
  const item = PAGE_MENU[route] && me.menus?.[PAGE_MENU[route]];
  return item && !item.available ? item.reason : null;
}

const reasonText = (reason) => TEXT[state.lang].reasons[reason] ?? reason;

/** A page opened by its address that the person cannot use: the menu's reason, not an empty form. */
function viewUnavailable(route, reason) {
  return el("section", { class: "panel", id: "unavailable", "aria-labelledby": "unavailable-title" },
    el("h2", { id: "unavailable-title" }, t(PAGE_TITLE[route])),
    el("p", { id: "unavailable-reason" }, `${t("unavailable")}: ${reasonText(reason)}`),
    reason === "initial_password_not_changed" ? el("p", {}, el("a", { href: "#/account-password" }, t("initial_password_link"))) : null,
    el("p", {}, el("a", { href: "#/menu" }, t("back_to_top"))));
}

function setNavOpen(open) {
  $("nav").classList.toggle("open", open);
  $("nav-toggle").setAttribute("aria-expanded", String(open));
}

function renderFrame(route) {
  document.documentElement.lang = state.lang;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("lang").textContent = t("switch_language");
  $("lang").lang = state.lang === "ja" ? "en" : "ja";
  const me = state.me;
  $("logout").hidden = !me;
  $("nav").hidden = !me;
  $("who").textContent = me ? (me.profile.realm === "workshop" ? me.profile.account : `${me.profile.account} ${state.lang === "en" ? me.profile.name.en : me.profile.name.ja}`) : "";
  // R-CRED-1: until the initial password is changed, every page says where to change it, first
  // thing under the header (on a phone too, above the menu); the password page says it itself.
  const initial = me?.profile.realm === "utokyo" && !me.profile.initial_password_changed && route !== "account-password";
  $("banner").replaceChildren(...(initial ? [el("section", { class: "banner", id: "initial-password", "aria-label": t("account_password") },
    el("p", {}, t("initial_password_notice"), " ", el("a", { href: "#/account-password" }, t("initial_password_link"))))] : []));
  if (!me) return;
  // On a phone the menu folds away above the page (open on the top page, where it is the
  // content); a language switch keeps it as it was.
  $("nav-toggle-text").textContent = t("menus");
  if (!state.relang) setNavOpen(route === "menu");
  const link = (key, to, item) => {
    if (item && !item.available) {
      return el("li", {}, el("span", { class: "unavailable", "aria-disabled": "true" }, t(key), el("span", { class: "reason" }, `${t("unavailable")}: ${reasonText(item.reason)}`)));
    }
    return el("li", {}, el("a", { href: `#/${to}`, "aria-current": route === to ? "page" : false }, t(key)));
  };
  const body = [];
  if (me.profile.realm === "workshop") {
    body.push(el("h3", {}, t("workshop_password")), el("ul", {}, link("workshop_password", "workshop")));
  } else {
    body.push(el("ul", {}, link("top_title", "menu")));
    for (const { group, items } of MENU) {
      if (group === "application_menu" && !APPLICANT_KINDS.has(me.profile.kind)) continue;
      body.push(el("h3", {}, t(group)), el("ul", {}, items.map(([key, to, menu = key]) => link(key, to, menu && me.menus[menu]))));
    }
    body.push(el("ul", {}, link("history", "history")));
    if (me.profile.operator) body.push(el("h3", {}, t("operator_menu")), el("ul", {}, OPERATOR_MENU.map(([key, to]) => link(key, to))));
  }
  $("nav-body").replaceChildren(...body);
}

// ------------------------------------------------------------------ views

/** A table wider than a phone scrolls sideways in its own box (reachable by keyboard), not the page. */
const wide = (label, node) => el("div", { class: "scroll-x", tabindex: "0", role: "region", "aria-label": label }, node);

const ui = { state, t, el, field, api, act, message, clearMessage, confirmStep, showError, localized, jst, day, loadMe, render, passwordForm, currentPasswordField, passwordProblems, endSession, finishLogin, wide };
const credentials = credentialViews(ui);
const lifecycle = lifecycleViews({ ...ui, signInTable: credentials.signInTable });

// Pages anyone may open: the login, activation, and the landings of mailed links.
const PUBLIC = { login: viewLogin, ...lifecycle.public };

const views = {
  ...PUBLIC,
  ...lifecycle.user,
  ...lifecycle.operator,
  ...credentials.user,
  menu: viewTop,
  "remote-access": viewRemoteAccess,
  "cloud-mail": viewCloudMail,
  "cloud-mail-password": viewCloudMailPassword,
  "apply-usage": viewUsage,
  "apply-suspension": viewSuspension,
  "apply-proxy": viewProxy,
  history: viewHistory,
  settings: viewSettings,
  workshop: viewWorkshop,
};

function field(id, label, input, hint) {
  return [el("label", { for: id }, label), input, hint ? el("p", { class: "hint", id: `${id}-hint` }, hint) : null];
}

/** After the password (and the code, with a second factor): the token, then the page to go to. */
async function finishLogin(body) {
  clearMessage();
  state.challenge = null;
  startSession(body.token, body.expires_at);
  await loadMe();
  const workshop = body.account.realm === "workshop";
  // After an expired session, back to the page the person was on (R-LOGIN-1's 30 minutes).
  const back = workshop ? null : returnRoute(state.me?.profile.account);
  location.hash = back ?? (workshop ? "#/workshop" : "#/menu");
}

function viewLogin() {
  // R-CRED-3: a password accepted for an account with a second factor waits for its code.
  if (state.challenge) return credentials.codeStep();
  const form = el("form", { class: "panel", "aria-labelledby": "login-title" },
    el("h2", { id: "login-title" }, t("login_title")),
    el("p", {}, t("login_intro")),
    el("fieldset", {},
      el("legend", {}, t("realm")),
      el("label", { class: "choice" }, el("input", { type: "radio", name: "realm", value: "utokyo", checked: location.hash !== "#/login/workshop" }), t("realm_utokyo")),
      el("label", { class: "choice" }, el("input", { type: "radio", name: "realm", value: "workshop", checked: location.hash === "#/login/workshop" }), t("realm_workshop"))),
    field("account", t("account"), el("input", { id: "account", name: "account", type: "text", autocomplete: "username", required: true, autocapitalize: "off", spellcheck: "false" })),
    field("password", t("password"), el("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true })),
    el("div", { class: "actions" }, el("button", { type: "submit" }, t("login"))),
    el("p", { class: "hint" }, t("activate_prompt"), " ", el("a", { href: "#/activate" }, t("activate_title"))),
    el("p", { class: "hint" }, el("a", { href: "#/forgot", id: "forgot-link" }, t("forgot_link"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const r = await api("POST", "/api/session", { realm: data.get("realm"), account: data.get("account").trim(), password: data.get("password") });
    if (!r.ok) return showError(r.body.error);
    if (r.body.second_factor) {
      clearMessage();
      state.challenge = r.body.second_factor;
      await render();
      document.getElementById("sf-code")?.focus();
      return;
    }
    await finishLogin(r.body);
  });
  return form;
}

function viewTop() {
  const { profile, right } = state.me;
  const facts = el("dl", { class: "facts" },
    el("dt", {}, t("account")), el("dd", {}, profile.account),
    el("dt", {}, t("department")), el("dd", {}, state.lang === "en" ? profile.department.en : profile.department.ja),
    el("dt", {}, t("kind_label")), el("dd", {}, t(`kind.${profile.kind}`)));
  const rightText = right.valid
    ? [t("right_valid", day(right.valid_until)), right.stop_on ? ` — ${t("right_stop", day(right.stop_on))}` : ""].join("")
    : t("right_none");
  return el("section", { "aria-labelledby": "top-title" },
    el("h2", { id: "top-title" }, t("welcome", state.lang === "en" ? profile.name.en : profile.name.ja)),
    el("p", {}, t("top_intro")), facts, el("p", {}, rightText));
}

async function viewRemoteAccess() {
  const r = await api("GET", "/api/remote-access");
  if (!r.ok) return showError(r.body.error), el("div");
  const s = r.body;
  const form = el("form", { class: "panel", "aria-labelledby": "ra-title" },
    el("h2", { id: "ra-title" }, t("remote_access")),
    el("p", {}, t("ra_intro")),
    el("p", { class: "hint" }, t("ra_usage", s.in_use, s.capacity)),
    el("fieldset", {}, el("legend", {}, t("remote_access")),
      el("label", { class: "choice" }, el("input", { type: "radio", name: "enabled", value: "true", checked: s.enabled }), t("ra_use")),
      el("label", { class: "choice" }, el("input", { type: "radio", name: "enabled", value: "false", checked: !s.enabled }), t("ra_not_use"))),
    el("div", { class: "actions" }, el("button", { type: "submit" }, t("save"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const enabled = new FormData(form).get("enabled") === "true";
    if (!(await confirmStep(t("ra_confirm")))) return;
    const done = await act("PUT", "/api/remote-access", { enabled });
    if (done) {
      await loadMe();
      await render();
      message("ok", () => done.enabled ? t("ra_done_on") : t("ra_done_off"));
    }
  });
  return form;
}

/** A sentence for a downstream system's error code (R-SEC-5): ours, else the server's bilingual one. */
function pendingReason(error) {
  const code = error?.code ?? "mail_system_refused";
  const known = TEXT[state.lang].pending_errors[code];
  return known ?? localized(error.message);
}

function pendingLine(p, text) {
  const lines = [el("p", { class: "pending" }, text)];
  if (p.state === "retrying") lines.push(el("p", { class: "hint retrying" }, t("retrying", pendingReason(p.error), p.attempts)));
  return lines;
}

async function viewCloudMail() {
  const r = await api("GET", "/api/cloud-mail/address");
  if (!r.ok) return showError(r.body.error), el("div");
  const s = r.body;
  const domain = s.address.split("@")[1];
  const info = el("section", { class: "panel" },
    el("h3", {}, t("cma_current")), el("p", { id: "current-address" }, s.address),
    s.next_change_allowed_at ? el("p", { class: "hint" }, t("cma_next", jst(s.next_change_allowed_at, true))) : null);
  // R-CMA-3: a change still pending can be replaced (a typo fixed) until minute 0, or withdrawn.
  let pending = null;
  if (s.pending) {
    const was = s.pending.address;
    pending = el("form", { class: "panel", id: "cma-pending", "aria-labelledby": "cma-pending-title" },
      el("h3", { id: "cma-pending-title" }, t("cma_pending_title")),
      pendingLine(s.pending, t("cma_pending", was, jst(s.pending.effective_at))),
      el("p", { class: "hint", id: "cma-replace-hint" }, t("cma_replace_hint", jst(s.pending.effective_at))),
      el("div", { class: "actions" }, el("button", { type: "submit", class: "secondary" }, t("cma_withdraw"))));
    pending.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!(await confirmStep(t("cma_withdraw_confirm", was)))) return;
      const r = await api("DELETE", "/api/cloud-mail/address");
      // Applied or withdrawn meanwhile (the sync, another tab): the page as it is now, and why.
      await render();
      if (r.ok) message("ok", () => t("cma_withdraw_done", was, s.address));
      else showError(r.body.error);
    });
  }
  // The field shows the address that will be: a pending change once saved, else the current one.
  const shown = (s.pending?.address ?? s.address).split("@")[0];
  const input = el("input", { id: "address", name: "address", type: "text", required: true, autocomplete: "off", autocapitalize: "off", spellcheck: "false", "aria-describedby": "address-hint", value: shown });
  const form = el("form", { class: "panel" },
    el("label", { for: "address" }, t("cma_new")),
    el("div", { class: "address-input" }, input, el("span", {}, `@${domain}`)),
    el("p", { class: "hint", id: "address-hint" }, t("cma_hint")),
    el("div", { class: "actions" }, el("button", { type: "submit" }, t("save"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const { local: address, reasons } = addressProblems(input.value, domain);
    if (reasons.length) return message("error", () => t("address_invalid"), () => reasons.map((r) => t(`address_reasons.${r}`)));
    const text = s.pending ? t("cma_confirm_replace", `${address}@${domain}`, s.pending.address) : t("cma_confirm", `${address}@${domain}`);
    if (!(await confirmStep(text))) return;
    const done = await act("PUT", "/api/cloud-mail/address", { address });
    if (done) {
      await render();
      message("ok", () => t("cma_done", done.pending.address, jst(done.pending.effective_at)));
    }
  });
  return el("div", {}, el("h2", {}, t("cloud_mail_address")), info, pending, form);
}

/** The current-password field every change of a credential or of where mail goes asks for (R-SEC-1). */
function currentPasswordField(id, hint) {
  const input = el("input", { id, name: "current_password", type: "password", autocomplete: "current-password", required: true, "aria-describedby": `${id}-hint` });
  return { input, nodes: field(id, t("current_password"), input, hint) };
}

/**
 * A new password twice; with `currentHint`, first the current password (R-SEC-1), handed to
 * `onSubmit(password, reset, currentPassword)`.
 */
function passwordForm(id, onSubmit, currentHint = null) {
  const current = currentHint ? currentPasswordField(`${id}-current`, currentHint) : null;
  const first = el("input", { id: `${id}-new`, type: "password", autocomplete: "new-password", required: true, "aria-describedby": `${id}-hint` });
  const again = el("input", { id: `${id}-again`, type: "password", autocomplete: "new-password", required: true });
  const form = el("form", { class: "panel" },
    current?.nodes,
    field(`${id}-new`, t("cmp_new"), first),
    el("p", { class: "hint", id: `${id}-hint` }, t("cmp_hint")),
    field(`${id}-again`, t("cmp_again"), again),
    el("div", { class: "actions" }, el("button", { type: "submit" }, t("save"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (first.value !== again.value) return message("error", () => t("cmp_mismatch"));
    const problems = passwordProblems(first.value);
    if (problems.length) return message("error", () => `${t("password_invalid")} ${t("violations_intro")}`, () => problems.map((v) => t(`violations.${v}`)));
    await onSubmit(first.value, () => form.reset(), current?.input.value);
  });
  return form;
}

async function viewCloudMailPassword() {
  const r = await api("GET", "/api/cloud-mail/address");
  if (!r.ok) return showError(r.body.error), el("div");
  const pending = r.body.pending_password;
  const form = passwordForm("cmp", async (password, reset, currentPassword) => {
    if (!(await confirmStep(t("cmp_confirm")))) return;
    const done = await act("PUT", "/api/cloud-mail/password", { password, current_password: currentPassword });
    if (done) {
      reset();
      await render();
      message("ok", () => t("cmp_done", jst(done.effective_at)));
    }
  }, t("current_utokyo_hint_cmp"));
  return el("div", {}, el("h2", {}, t("cloud_mail_password")),
    pending ? el("section", { class: "panel" }, pendingLine(pending, t("cmp_pending", jst(pending.effective_at)))) : null, form);
}

function applicationForm(title, intro, fields, confirmText, body, doneText) {
  const form = el("form", { class: "panel" }, el("h2", {}, title), el("p", {}, intro), fields,
    el("div", { class: "actions" }, el("button", { type: "submit" }, t("apply"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!(await confirmStep(confirmText()))) return;
    const done = await act("POST", "/api/applications", body());
    if (done) {
      await loadMe();
      await render();
      message("ok", () => doneText(done));
    }
  });
  return form;
}

function viewUsage() {
  return applicationForm(t("eccs_usage"), t("use_intro"), el("p", {}, el("strong", {}, t("use_template"))),
    () => t("use_confirm"), () => ({ type: "eccs_usage" }), () => t("use_done"));
}

/** R-APP-SUS-3: the caller's own suspension still waiting for its day, if any. */
function scheduledSuspension(items) {
  const me = state.me.profile.account;
  return items.find((a) => a.type === "eccs_suspension" && a.status === "scheduled" && a.applicant === me) ?? null;
}

async function viewSuspension() {
  const until = state.me.right.valid_until ?? "";
  const r = await api("GET", "/api/applications");
  const scheduled = r.ok ? scheduledSuspension(r.body.items) : null;
  const input = el("input", { id: "stop-date", type: "date", required: true, max: until, "aria-describedby": "stop-date-hint" });
  const notice = scheduled ? el("p", { class: "pending", id: "sus-scheduled" }, t("sus_scheduled", day(scheduled.effective_on)), " ",
    el("a", { href: "#/history" }, t("sus_to_history"))) : null;
  return applicationForm(t("eccs_suspension"), t("sus_intro"),
    [notice, field("stop-date", t("sus_date"), input, t("sus_hint", day(until)))],
    () => (scheduled ? t("sus_confirm_replace", day(input.value), day(scheduled.effective_on)) : t("sus_confirm", day(input.value))),
    () => ({ type: "eccs_suspension", stop_date: input.value }),
    (done) => (scheduled ? t("sus_done_replacing", day(done.effective_on), day(scheduled.effective_on)) : t("sus_done", day(done.effective_on))));
}

function viewProxy() {
  const input = el("input", { id: "target", type: "text", required: true, inputmode: "numeric", autocomplete: "off" });
  const found = el("div", { id: "target-found" });
  let target = null;
  const search = el("form", { class: "panel" }, el("h2", {}, t("eccs_proxy")), el("p", {}, t("proxy_intro")),
    field("target", t("proxy_target"), input), el("div", { class: "actions" }, el("button", { type: "submit" }, t("search"))));
  search.addEventListener("submit", async (e) => {
    e.preventDefault();
    target = null;
    found.replaceChildren();
    const r = await act("GET", `/api/proxy-targets/${encodeURIComponent(input.value.trim())}`);
    if (!r) return;
    clearMessage();
    target = r;
    const name = state.lang === "en" ? r.name.en : r.name.ja;
    const apply = el("form", { class: "panel", "aria-labelledby": "found-title" },
      el("h3", { id: "found-title" }, t("proxy_found")),
      el("dl", { class: "facts" },
        el("dt", {}, t("account")), el("dd", {}, r.account),
        el("dt", {}, t("name")), el("dd", {}, name),
        el("dt", {}, t("kind_label")), el("dd", {}, t(`kind.${r.kind}`)),
        el("dt", {}, t("department")), el("dd", {}, state.lang === "en" ? r.department.en : r.department.ja)),
      el("div", { class: "actions" }, el("button", { type: "submit" }, t("apply"))));
    apply.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!target || !(await confirmStep(t("proxy_confirm", name)))) return;
      const done = await act("POST", "/api/applications", { type: "eccs_proxy", target: target.account });
      if (done) {
        found.replaceChildren();
        message("ok", () => t("proxy_done"));
      }
    });
    found.replaceChildren(apply);
    apply.querySelector("button").focus();
  });
  return el("div", {}, search, found);
}

/** R-APP-SUS-3: withdraws the caller's scheduled suspension, after the confirmation. */
async function withdrawSuspension(a) {
  if (!(await confirmStep(t("withdraw_confirm", day(a.effective_on))))) return;
  const r = await api("DELETE", `/api/applications/${encodeURIComponent(a.id)}`);
  // Applied by the sweep or closed meanwhile (409 already_applied): the history as it is now, and why.
  await loadMe();
  await render();
  if (r.ok) message("ok", () => t("withdraw_done", day(a.effective_on)));
  else showError(r.body.error);
}

async function viewHistory() {
  const r = await api("GET", "/api/applications");
  if (!r.ok) return showError(r.body.error), el("div");
  const items = r.body.items;
  const byId = new Map(items.map((a) => [a.id, a]));
  const own = scheduledSuspension(items);
  const status = (a) => {
    const by = a.status === "replaced" && a.replaced_by ? byId.get(a.replaced_by) : null;
    return el("span", {}, t(`status.${a.status}`), by ? el("span", { class: "hint" }, t("replaced_with", day(by.effective_on))) : null);
  };
  const heads = ["h_type", "h_applicant", "h_target", "h_status", "h_effective", "h_created", "h_actions"];
  // Each cell names its column too: on a phone a row is drawn as a card of "name: value" lines.
  const cell = (i, attrs, ...content) => el("td", { "data-label": t(heads[i]), ...attrs }, ...content);
  const rows = items.map((a) => el("tr", { "data-status": a.status },
    cell(0, {}, t(`type.${a.type}`)), cell(1, {}, a.applicant), cell(2, {}, a.target),
    cell(3, { class: `status ${a.status}` }, status(a)), cell(4, {}, day(a.effective_on)), cell(5, {}, jst(a.created_at, true)),
    own && a.id === own.id
      ? cell(6, {}, el("button", { type: "button", class: "secondary", onclick: () => withdrawSuspension(a) }, t("withdraw")))
      : el("td", { class: "none" })));
  return el("section", {}, el("h2", {}, t("history")),
    own ? el("p", { class: "hint" }, t("history_withdraw_hint")) : null,
    rows.length === 0 ? el("p", {}, t("history_empty")) :
      wide(t("history"), el("table", { id: "history", class: "cards" }, el("thead", {}, el("tr", {}, heads.map((k) => el("th", { scope: "col" }, t(k))))), el("tbody", {}, rows))));
}

async function viewSettings() {
  const r = await api("GET", "/api/admin/settings");
  if (!r.ok) return showError(r.body.error), el("div");
  const input = el("input", { id: "capacity", type: "number", min: "0", max: "1000000", required: true, value: String(r.body.remote_access_capacity) });
  const form = el("form", { class: "panel" }, el("h2", {}, t("settings")), el("p", {}, t("settings_intro")),
    el("p", { class: "hint" }, t("in_use", r.body.remote_access_in_use)), field("capacity", t("capacity"), input),
    el("div", { class: "actions" }, el("button", { type: "submit" }, t("save"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const n = Number(input.value);
    if (!(await confirmStep(t("settings_confirm", n)))) return;
    if (await act("PUT", "/api/admin/settings", { remote_access_capacity: n })) message("ok", () => t("settings_done"));
  });
  return form;
}

function viewWorkshop() {
  const form = passwordForm("ws", async (password, reset, currentPassword) => {
    if (!(await confirmStep(t("ws_confirm")))) return;
    if (await act("PUT", "/api/workshop/password", { password, current_password: currentPassword })) {
      reset();
      message("ok", () => t("ws_done"));
    }
  }, t("current_workshop_hint"));
  return el("div", {}, el("h2", {}, t("workshop_password")), el("p", {}, t("ws_intro")), form);
}

// ------------------------------------------------------------------ routing

async function render() {
  takeHashQuery();
  const drawn = location.hash;
  let route = routeOf(location.hash) || "menu";
  // The address people guess (and the usability run typed) for the cloud-mail page.
  if (route === "cloud-mail-address") route = "cloud-mail";
  if (state.token && !state.me) await loadMe().catch(() => null);
  const open = route in PUBLIC && route !== "login";
  if (!state.me && !open) route = "login";
  else if (route === "login") route = state.me.profile.realm === "workshop" ? "workshop" : "menu";
  if (state.me?.profile.realm === "workshop" && !open) route = "workshop";
  // A page opened by its address that the menu shows as unavailable says why (R-MENU-4).
  const reason = unavailableReason(route);
  const view = reason ? () => viewUnavailable(route, reason) : views[route] ?? viewTop;
  renderFrame(route);
  try {
    const node = await view();
    $("view").replaceChildren(node);
  } catch (e) {
    if (!e?.handled) throw e;
  }
  // A redirect while drawing means another render follows: the message waits for it.
  if (state.flash && location.hash === drawn) {
    const { kind, text } = state.flash;
    state.flash = null;
    message(kind, text);
  }
}

// ------------------------------------------------------------------ language switch

/** A form control's key across a redraw: its id, else its name (and a choice's value). */
function controlKey(input) {
  const choice = input.type === "radio" || input.type === "checkbox";
  if (input.id) return input.id;
  return input.name ? `${input.name}${choice ? `=${input.value}` : ""}` : null;
}

const CONTROLS = "input, select, textarea";
const KEPT = (input) => input.type !== "file" && input.type !== "submit" && input.type !== "button" && input.type !== "hidden";

/** What the person has typed and chosen on the page. */
function formState() {
  const kept = new Map();
  for (const input of $("view").querySelectorAll(CONTROLS)) {
    const key = KEPT(input) && controlKey(input);
    if (key) kept.set(key, input.type === "radio" || input.type === "checkbox" ? input.checked : input.value);
  }
  return kept;
}

function restoreForm(kept) {
  for (const input of $("view").querySelectorAll(CONTROLS)) {
    const key = KEPT(input) && controlKey(input);
    if (!key || !kept.has(key)) continue;
    if (input.type === "radio" || input.type === "checkbox") input.checked = kept.get(key);
    else input.value = kept.get(key);
  }
}

/** Draws the page in the other language, keeping what was typed and the message on screen. */
async function switchLanguage() {
  const kept = formState();
  const drawn = location.hash;
  state.lang = state.lang === "ja" ? "en" : "ja";
  sessionStorage.setItem("lang", state.lang);
  const shown = state.lastMessage;
  state.relang = true;
  try {
    await render();
  } finally {
    state.relang = false;
  }
  if (location.hash !== drawn) return;
  restoreForm(kept);
  // The message again, in the new language (unless drawing the page gave a newer one).
  if (state.lastMessage === shown) paintMessage();
}

document.addEventListener("DOMContentLoaded", () => {
  $("lang").addEventListener("click", () => switchLanguage());
  $("logout").addEventListener("click", () => endSession("logged_out"));
  $("nav-toggle").addEventListener("click", () => setNavOpen(!$("nav").classList.contains("open")));
  window.addEventListener("hashchange", () => {
    clearMessage();
    render().then(() => {
      if (!$("messages").hasChildNodes()) $("main").focus();
    });
  });
  armExpiry();
  render();
});
