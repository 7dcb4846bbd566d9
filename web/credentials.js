// The person's own credentials (R-CRED-1..3): the UTokyo Account password change, the sign-in
// activity, two-step verification (TOTP with recovery codes) and the login's code step. app.js
// hands in its helpers; nothing here touches innerHTML either (the QR code is an <img> of the
// server's SVG as a data: URL, which the page's CSP allows, never markup put into the page).

/** The text's UTF-8 bytes in base64 (for a data: URL). */
function base64(text) {
  let binary = "";
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** A code as typed: full-width digits read as the digits they show (NFKC, a Japanese IME), without
 * the spaces an authenticator app shows or a person types. */
const typedCode = (value) => value.normalize("NFKC").replace(/\s+/g, "");

/** A TOTP code (6 digits) or a recovery code (XXXXX-XXXXX, the hyphen optional). */
const isCode = (code) => /^\d{6}$/.test(code) || /^[0-9A-Za-z]{5}-?[0-9A-Za-z]{5}$/.test(code);

// A browser, roughly, from its User-Agent: the first that matches (order matters: Edge and Opera
// say Chrome too, Chrome says Safari, Android says Linux, an iPhone says Mac OS X).
const BROWSERS = [[/Edg(e|A|iOS)?\//, "Edge"], [/OPR\/|Opera/, "Opera"], [/Firefox\/|FxiOS\//, "Firefox"], [/SamsungBrowser\//, "Samsung Internet"],
  [/HeadlessChrome\//, "Headless Chrome"], [/Chrome\/|CriOS\/|Chromium\//, "Chrome"], [/Version\/[\d.]+.*Safari\//, "Safari"]];
const SYSTEMS = [[/Windows/, "Windows"], [/Android/, "Android"], [/iPhone|iPad|iPod/, "iOS"], [/CrOS/, "ChromeOS"], [/Mac OS X|Macintosh/, "macOS"], [/Linux/, "Linux"]];

// What a sign-in that did not let anyone in looks like: marked in the tables.
const FAILED = new Set(["wrong_password", "wrong_code", "locked", "refused"]);

export function credentialViews(ui) {
  const { state, t, el, field, api, act, message, clearMessage, confirmStep, showError, jst, render, passwordForm, currentPasswordField, endSession, finishLogin, wide } = ui;
  const date = (instant) => (instant ? jst(instant, true) : "—");

  /** "Chrome on Linux" (ja: Chrome（Linux）); the program's own name for anything else. */
  function browserOf(ua) {
    if (!ua) return t("ua_unknown");
    const browser = BROWSERS.find(([re]) => re.test(ua))?.[1] ?? ua.split(/[/\s;(]/)[0];
    const system = SYSTEMS.find(([re]) => re.test(ua))?.[1];
    return system ? t("ua_on", browser, system) : browser;
  }

  /**
   * R-CRED-2: sign-in attempts as a table that scrolls sideways on a phone; the browser in short,
   * its full User-Agent one click (or Enter) away.
   */
  function signInTable(id, items) {
    const rows = items.map((x) => el("tr", { "data-result": x.result },
      el("td", {}, date(x.at)),
      el("td", { class: FAILED.has(x.result) ? "bad" : false }, t(`sign_in_results.${x.result}`)),
      el("td", {}, x.source_ip || "—"),
      el("td", { class: "ua" }, x.user_agent
        ? el("details", {}, el("summary", { title: x.user_agent }, browserOf(x.user_agent)), el("code", {}, x.user_agent))
        : t("ua_unknown"))));
    return wide(t("sign_ins"), el("table", { id, class: "sign-ins" }, el("caption", { class: "visually-hidden" }, t("sign_ins")),
      el("thead", {}, el("tr", {}, ["h_at", "h_result", "h_source", "h_browser"].map((h) => el("th", { scope: "col" }, t(h))))),
      el("tbody", {}, rows)));
  }

  /**
   * A field for a code: a TOTP code by default (a digit keypad on phones); with `recovery`, a
   * box to say it is a recovery code, which brings the letters back.
   */
  function codeField(id, label, hint, recovery) {
    const input = el("input", { id, name: "code", type: "text", required: true, inputmode: "numeric", autocomplete: "one-time-code",
      autocapitalize: "characters", spellcheck: "false", maxlength: "20", "aria-describedby": `${id}-hint`, class: "code" });
    const nodes = [field(id, label, input, hint)];
    if (recovery) {
      const box = el("input", { id: `${id}-recovery`, type: "checkbox" });
      const sync = () => input.setAttribute("inputmode", box.checked ? "text" : "numeric");
      box.addEventListener("change", () => (sync(), input.focus()));
      // A language switch puts the box back without a change event: the field follows on focus.
      input.addEventListener("focus", sync);
      nodes.push(el("label", { class: "choice", for: `${id}-recovery` }, box, t("use_recovery")));
    }
    return { input, nodes };
  }

  const badCode = () => message("error", () => t("code_invalid_form"));

  // ---------------------------------------------------------------- the login's second step

  let challengeTimer = null;

  /** R-CRED-3: the code step of a login, while its challenge (5 minutes) lives. */
  function codeStep() {
    const c = state.challenge;
    const restart = (why) => {
      clearTimeout(challengeTimer);
      state.challenge = null;
      render().then(() => {
        if (why) message("error", () => t(why));
        document.getElementById("account")?.focus();
      });
    };
    clearTimeout(challengeTimer);
    const left = new Date(c.expires_at).getTime() - Date.now();
    challengeTimer = setTimeout(() => state.challenge === c && location.hash.startsWith("#/login") && restart("sf_expired"), Math.max(0, left));
    const code = codeField("sf-code", t("code_label"), t("sf_hint"), true);
    code.input.setAttribute("aria-describedby", "sf-intro sf-code-hint");
    const again = el("button", { type: "button", class: "secondary", id: "sf-restart", onclick: () => restart(null) }, t("sf_restart"));
    const form = el("form", { class: "panel", "aria-labelledby": "sf-title" },
      el("h2", { id: "sf-title" }, t("two_step")),
      el("p", { id: "sf-intro" }, t("sf_intro", jst(c.expires_at))),
      code.nodes,
      el("div", { class: "actions buttons-left" }, el("button", { type: "submit" }, t("sf_verify")), again));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const typed = typedCode(code.input.value);
      if (!isCode(typed)) return badCode();
      if (new Date(c.expires_at).getTime() <= Date.now()) return restart("sf_expired");
      const r = await api("POST", "/api/session/second-factor", { challenge: c.challenge, code: typed });
      if (r.ok) return finishLogin(r.body);
      // A wrong code leaves the challenge open for another try; a used-up or expired one does
      // not: the button to start again is right there either way.
      showError(r.body.error, () => (r.status === 401 ? [t("sf_retry")] : []));
      code.input.select();
    });
    return form;
  }

  // ---------------------------------------------------------------- R-CRED-1: the password

  function viewAccountPassword() {
    const initial = !state.me.profile.initial_password_changed;
    const form = passwordForm("pw", async (password, reset, currentPassword) => {
      // Known here: the server would say it only after the current password has been checked.
      if (password === currentPassword) {
        return message("error", () => `${t("password_invalid")} ${t("violations_intro")}`, () => [t("violations.same_as_current_password")]);
      }
      if (!(await confirmStep(t("pw_confirm")))) return;
      const done = await act("PUT", "/api/account/password", { current_password: currentPassword, new_password: password });
      if (done) {
        reset();
        // Every session has ended, this one too (R-CRED-1): the login, with the new password.
        endSession("password_changed");
      }
    }, t("current_utokyo_hint"));
    form.querySelector("#pw-hint").append(" ", t("pw_hint_same"));
    return el("div", {}, el("h2", {}, t("account_password")),
      initial ? el("p", { class: "pending", id: "pw-initial" }, t("pw_initial")) : null,
      el("p", {}, t("pw_intro")), el("p", { class: "hint" }, t("pw_notice")), form);
  }

  // ---------------------------------------------------------------- R-CRED-2: sign-in activity

  async function viewSignIns() {
    const r = await api("GET", "/api/account/sign-ins");
    if (!r.ok) return showError(r.body.error), el("div");
    const items = r.body.items;
    return el("div", {}, el("h2", {}, t("sign_ins")), el("p", {}, t("sign_ins_intro")),
      el("p", { class: "notice", id: "sign-ins-warning" }, t("sign_ins_warning"), " ", el("a", { href: "#/account-password" }, t("initial_password_link"))),
      items.length ? signInTable("sign-ins", items) : el("p", {}, t("sign_ins_none")));
  }

  // ---------------------------------------------------------------- R-CRED-3: two-step verification

  // Shown only once and kept across a language switch (as the import keeps its keys): an
  // enrolment started (its secret: starting again would make a new one) and the recovery codes.
  let enrolShown = null;
  let codesShown = null;

  /** The recovery codes as a text file, for the person to keep. */
  function codesDownload(codes) {
    const lines = [t("recovery_file_title"), `${t("account")}: ${state.me.profile.account}`, `${t("recovery_file_made")}: ${jst(new Date().toISOString(), true)}`, "",
      t("recovery_file_note"), "", ...codes, ""];
    const blob = new Blob([lines.join("\r\n")], { type: "text/plain;charset=utf-8" });
    return el("a", { href: URL.createObjectURL(blob), download: `eccs-recovery-codes-${state.me.profile.account}.txt`, class: "button", id: "recovery-download" }, t("recovery_download"));
  }

  function recoveryView(codes) {
    const next = el("button", { type: "button", id: "recovery-done" }, t("recovery_saved"));
    next.addEventListener("click", async () => {
      if (!(await confirmStep(t("recovery_saved_confirm")))) return;
      codesShown = null;
      await render();
    });
    return el("div", {}, el("h2", {}, t("two_step")),
      el("section", { class: "panel warning", "aria-labelledby": "recovery-title" },
        el("h3", { id: "recovery-title" }, t("recovery_title")),
        el("p", { class: "warning-text", id: "recovery-warning" }, t("recovery_warning")),
        el("ol", { class: "recovery", id: "recovery-codes", "aria-describedby": "recovery-warning" }, codes.map((c) => el("li", {}, el("code", {}, c)))),
        codesDownload(codes),
        el("div", { class: "actions" }, next)));
  }

  /** The QR code, the key for typing in, and the first code that confirms the enrolment. */
  function enrolment(data) {
    const grouped = data.secret.match(/.{1,4}/g).join(" ");
    const scan = el("section", { class: "panel", "aria-labelledby": "enrol-scan-title" },
      el("h3", { id: "enrol-scan-title", tabindex: "-1" }, t("enrol_scan_title")),
      el("p", {}, t("enrol_scan")),
      el("img", { id: "totp-qr", class: "qr", src: `data:image/svg+xml;base64,${base64(data.qr_svg)}`, alt: t("enrol_qr_alt"), width: "200", height: "200" }),
      el("p", {}, el("span", { id: "totp-secret-label" }, t("enrol_secret")), " ",
        el("code", { id: "totp-secret", class: "secret", "aria-labelledby": "totp-secret-label", "data-secret": data.secret }, grouped)),
      el("p", { class: "hint" }, t("enrol_secret_hint")),
      el("p", {}, el("a", { href: data.otpauth_uri, id: "totp-open" }, t("enrol_open_app"))));
    const code = codeField("totp-code", t("code_label"), t("enrol_code_hint"), false);
    code.input.setAttribute("maxlength", "7");
    const form = el("form", { class: "panel", "aria-labelledby": "enrol-code-title" },
      el("h3", { id: "enrol-code-title" }, t("enrol_code_title")), code.nodes,
      el("div", { class: "actions" }, el("button", { type: "submit" }, t("enrol_enable"))));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const typed = typedCode(code.input.value);
      if (!/^\d{6}$/.test(typed)) return message("error", () => t("enrol_code_form"));
      if (!(await confirmStep(t("enrol_confirm")))) return;
      const done = await act("POST", "/api/account/totp/confirm", { code: typed });
      if (!done) return;
      enrolShown = null;
      codesShown = { hash: location.hash, codes: done.recovery_codes };
      document.getElementById("view").replaceChildren(recoveryView(done.recovery_codes));
      message("ok", () => t("enrol_done"));
    });
    return el("div", { id: "enrolment" }, scan, form);
  }

  function removalForm() {
    const current = currentPasswordField("totp-remove-password", t("current_utokyo_hint"));
    const code = codeField("totp-remove-code", t("remove_code_label"), t("remove_code_hint"), true);
    const form = el("form", { class: "panel", id: "totp-remove", "aria-labelledby": "totp-remove-title" },
      el("h3", { id: "totp-remove-title" }, t("remove_title")), el("p", { class: "hint" }, t("remove_intro")),
      current.nodes, code.nodes,
      el("div", { class: "actions" }, el("button", { type: "submit", class: "secondary" }, t("remove_button"))));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const typed = typedCode(code.input.value);
      if (!isCode(typed)) return badCode();
      if (!(await confirmStep(t("remove_confirm")))) return;
      if (await act("DELETE", "/api/account/totp", { password: current.input.value, code: typed }, { reauth: true })) {
        await render();
        message("ok", () => t("remove_done"));
      }
    });
    return form;
  }

  async function viewTwoStep() {
    const kept = (x) => (state.relang && x?.hash === location.hash ? x : null);
    enrolShown = kept(enrolShown);
    codesShown = kept(codesShown);
    if (codesShown) return recoveryView(codesShown.codes);
    const r = await api("GET", "/api/account/totp");
    if (!r.ok) return showError(r.body.error), el("div");
    const s = r.body;
    const head = [el("h2", {}, t("two_step")), el("p", {}, t("two_step_intro"))];
    if (s.enrolled) {
      const low = s.recovery_codes_left <= 3;
      return el("div", {}, head,
        el("section", { class: "panel", id: "two-step-state" },
          el("p", {}, el("strong", {}, t("two_step_on", date(s.enrolled_at)))),
          el("p", { id: "recovery-left", class: low ? "pending" : false }, t("two_step_codes_left", s.recovery_codes_left)),
          low ? el("p", { class: "hint" }, t("two_step_codes_low")) : null),
        removalForm());
    }
    if (enrolShown) return el("div", {}, head, enrolment(enrolShown.data));
    // Setting up a factor is a change of a credential (R-SEC-1): a stolen session must not set
    // one up that the owner does not have. The current password comes with it.
    const current = currentPasswordField("totp-start-password", t("current_utokyo_hint"));
    const start = el("form", { class: "panel", id: "two-step-state" },
      el("p", {}, el("strong", {}, t("two_step_off"))), el("p", { class: "hint" }, t("two_step_start_hint")),
      current.nodes,
      el("div", { class: "actions" }, el("button", { type: "submit" }, t("two_step_start"))));
    start.addEventListener("submit", async (e) => {
      e.preventDefault();
      const r = await api("POST", "/api/account/totp", { current_password: current.input.value });
      if (!r.ok) {
        const code = r.body.error?.code;
        if (code === "invalid_credentials") return message("error", () => t("current_password_wrong"));
        // Set up meanwhile (in another tab): the page as it is now, with the server's answer.
        if (code === "second_factor_enrolled") await render();
        return showError(r.body.error);
      }
      const done = r.body;
      clearMessage();
      enrolShown = { hash: location.hash, data: done };
      const shown = enrolment(done);
      start.replaceWith(shown);
      shown.querySelector("#enrol-scan-title").focus();
    });
    return el("div", {}, head, start);
  }

  return {
    user: { "account-password": viewAccountPassword, "sign-ins": viewSignIns, "two-step": viewTwoStep },
    codeStep,
    signInTable,
  };
}
