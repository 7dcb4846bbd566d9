// The account lifecycle pages (R-LC-1..7): activation with the printed key, the landing pages of
// the links mailed for the conferencing service and for mail forwarding, the person's own
// conferencing, forwarding and identity-verification pages, and the help desk's import, lookup
// and runs pages. app.js hands in its helpers; nothing here touches innerHTML either.

/** The identity documents the help desk checks in person (R-LC-4), for a reset or a second factor's removal. */
const DOCUMENTS = ["student_id_card", "staff_id_card", "passport", "residence_card", "drivers_license", "my_number_card"];

/** The largest JSON body one import request may carry (the API takes 16 KiB; room to spare). */
const IMPORT_PART_BYTES = 15 * 1024;

/**
 * Splits an import file into records, each with the file line it starts on. CSV records may hold
 * a quoted newline, so a record ends only at a newline outside quotes; the header is kept apart.
 */
export function splitRecords(text, format) {
  const records = [];
  let start = 0;
  let line = 1;
  let startLine = 1;
  let quoted = false;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (c === '"' && format === "csv") quoted = !quoted;
    if (i === text.length || (c === "\n" && !quoted)) {
      const record = text.slice(start, i).replace(/\r$/, "");
      if (record.trim() !== "") records.push({ text: record, line: startLine });
      start = i + 1;
      line += 1;
      startLine = line;
    } else if (c === "\n") {
      line += 1;
    }
  }
  if (format !== "csv") return { header: null, records };
  return { header: records.shift() ?? null, records };
}

/**
 * Groups records into request bodies under IMPORT_PART_BYTES. Each part keeps, for every line the
 * server may name, the file line it came from (the server numbers a CSV part's header as line 1).
 */
export function importParts(text, format) {
  const { header, records } = splitRecords(text, format);
  const encoder = new TextEncoder();
  // A record's bytes in the body: its JSON-escaped text without the quotes, plus its "\n".
  const size = (s) => encoder.encode(JSON.stringify(s)).length;
  const base = encoder.encode(JSON.stringify({ format, data: "", dry_run: false })).length + (header ? size(header.text) : 0);
  const parts = [];
  let current = null;
  for (const r of records) {
    const bytes = size(r.text);
    if (base + bytes > IMPORT_PART_BYTES) return { error: r.line };
    if (!current || current.bytes + bytes > IMPORT_PART_BYTES) {
      current = { bytes: base, records: [] };
      parts.push(current);
    }
    current.bytes += bytes;
    current.records.push(r);
  }
  return {
    parts: parts.map((p) => ({
      data: [header?.text, ...p.records.map((r) => r.text)].filter((x) => x != null).join("\n") + "\n",
      fileLine: (n) => (header ? (n === 1 ? header.line : p.records[n - 2]?.line) : p.records[n - 1]?.line) ?? n,
      count: p.records.length,
    })),
    total: records.length,
  };
}

export function lifecycleViews(ui) {
  const { state, t, el, field, api, act, message, confirmStep, showError, localized, jst, day, loadMe, render, passwordForm, currentPasswordField, wide, signInTable } = ui;
  const date = (instant) => (instant ? jst(instant, true) : "—");
  /** A table: its caption (or none), its column heads (message keys), its rows. */
  const table = (id, caption, heads, rows) => el("table", { id }, caption ? el("caption", {}, caption) : null,
    el("thead", {}, el("tr", {}, heads.map((h) => el("th", { scope: "col" }, t(h))))), el("tbody", {}, rows));

  // ---------------------------------------------------------------- public pages

  function viewActivate() {
    const account = el("input", { id: "act-account", type: "text", required: true, inputmode: "numeric", autocomplete: "username", autocapitalize: "off", spellcheck: "false" });
    const key = el("input", { id: "act-key", type: "text", required: true, autocomplete: "off", autocapitalize: "characters", spellcheck: "false", "aria-describedby": "act-key-hint" });
    const form = passwordForm("act", async (password, reset) => {
      const done = await act("POST", "/api/activation", { account: account.value.trim(), activation_key: key.value.trim(), password });
      if (done) {
        reset();
        state.flash = { kind: "ok", text: () => t("act_done") };
        location.hash = "#/login";
      }
    });
    const intro = [el("h2", {}, t("activate_title")), el("p", {}, t("act_intro")),
      field("act-account", t("account"), account), field("act-key", t("act_key"), key, t("act_key_hint"))];
    form.prepend(...intro.flat().filter(Boolean));
    form.querySelector("button[type=submit]").textContent = t("activate");
    return el("div", {}, form, el("p", {}, el("a", { href: "#/login" }, t("back_to_login"))));
  }

  /** A landing page for a mailed link: a button, so that a mail scanner opening it does nothing. */
  function landing(title, intro, button, path, done) {
    const token = decodeURIComponent(location.hash.split("/")[2] ?? "");
    const form = el("form", { class: "panel" }, el("h2", {}, title), el("p", {}, intro),
      el("div", { class: "actions" }, el("button", { type: "submit" }, button)));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const r = await act("POST", path, { token });
      if (!r) return;
      form.querySelector("button").disabled = true;
      message("ok", () => done(r));
    });
    return form;
  }

  const viewAccept = () => landing(t("conferencing"), t("accept_intro"), t("accept"), "/api/services/conferencing/accept",
    (r) => t("accept_done", r.service_account));

  const viewConfirmForwarding = () => landing(t("forwarding"), t("confirm_intro"), t("confirm_forwarding"), "/api/cloud-mail/forwarding/confirm",
    (r) => t("confirm_done", r.address, jst(r.effective_at, true)));

  // ---------------------------------------------------------------- the person's pages

  async function viewConferencing() {
    const r = await api("GET", "/api/services/conferencing");
    if (!r.ok) return showError(r.body.error), el("div");
    const s = r.body;
    const status = {
      none: [t("conf_none")],
      invited: [t("conf_invited", date(s.expires_at))],
      active: [t("conf_active", s.service_account, date(s.activated_at))],
      expired: [t("conf_expired")],
    }[s.state];
    const panel = el("section", { class: "panel", id: "conf-state" }, el("h3", {}, t("state")), status.map((p) => el("p", {}, p)));
    if (s.state === "active") return el("div", {}, el("h2", {}, t("conferencing")), el("p", {}, t("conf_intro")), panel);
    const form = el("form", { class: "panel" }, el("p", { class: "hint" }, t("conf_hint")),
      el("div", { class: "actions" }, el("button", { type: "submit" }, s.state === "invited" ? t("resend") : t("apply"))));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!(await confirmStep(s.state === "invited" ? t("conf_confirm_resend") : t("conf_confirm")))) return;
      const done = await act("POST", "/api/services/conferencing");
      if (done) {
        await render();
        message("ok", () => t("conf_done", state.me.cloud_mail.address, date(done.expires_at)));
      }
    });
    return el("div", {}, el("h2", {}, t("conferencing")), el("p", {}, t("conf_intro")), panel, form);
  }

  async function viewForwarding() {
    const r = await api("GET", "/api/cloud-mail/forwarding");
    if (!r.ok) return showError(r.body.error), el("div");
    const s = r.body;
    const lines = [el("p", { id: "forwarding-current" }, s.address ? t("fwd_current", s.address) : t("fwd_none"))];
    if (s.requested?.state === "invited") lines.push(el("p", { class: "pending" }, t("fwd_requested", s.requested.address, date(s.requested.expires_at))));
    if (s.pending) lines.push(el("p", { class: "pending" }, s.pending.address ? t("fwd_pending", s.pending.address, jst(s.pending.effective_at)) : t("fwd_pending_stop", jst(s.pending.effective_at))));
    const input = el("input", { id: "forward-to", type: "email", required: true, autocomplete: "email", spellcheck: "false", "aria-describedby": "forward-to-hint" });
    const current = currentPasswordField("forward-current", t("current_utokyo_hint"));
    const own = state.me.cloud_mail?.address;
    const form = el("form", { class: "panel" }, field("forward-to", t("fwd_address"), input, t("fwd_hint")),
      el("p", { class: "hint", id: "forward-notice" }, t("fwd_notice", own)), current.nodes,
      el("div", { class: "actions" }, el("button", { type: "submit" }, t("save"))));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const address = input.value.trim();
      if (!(await confirmStep(t("fwd_confirm", address)))) return;
      const done = await act("PUT", "/api/cloud-mail/forwarding", { address, current_password: current.input.value });
      if (done) {
        form.reset();
        await render();
        message("ok", () => t("fwd_done", address, date(done.requested.expires_at), own));
      }
    });
    // Something to stop: forwarding in force (not already stopping), or a change waiting to apply.
    const stoppable = s.pending ? s.pending.address !== null : Boolean(s.address);
    const stop = el("form", { class: "panel" }, el("p", {}, t("fwd_stop_intro")),
      el("div", { class: "actions" }, el("button", { type: "submit", class: "secondary" }, t("fwd_stop"))));
    stop.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!(await confirmStep(t("fwd_stop_confirm")))) return;
      const done = await act("DELETE", "/api/cloud-mail/forwarding");
      if (done) {
        await render();
        message("ok", () => t("fwd_stop_done", jst(done.effective_at)));
      }
    });
    return el("div", {}, el("h2", {}, t("forwarding")), el("p", {}, t("fwd_intro")),
      el("section", { class: "panel" }, lines), form, stoppable ? stop : null);
  }

  /** The query the address came with, for the page it was meant for (state.hashQuery). */
  function takeQuery(route) {
    const q = state.hashQuery;
    if (q?.route !== route) return null;
    state.hashQuery = null;
    return q.params;
  }

  /** A refusal the identity provider's round trip came back with (`?error=reason`), in words. */
  const oidcError = (reason) => t(`oidc_err.${reason}`) === `oidc_err.${reason}` ? t("oidc_err.other") : t(`oidc_err.${reason}`);

  /** Sends the browser to the provider; the flow cookie set by the start answer comes back with it. */
  async function goToProvider(method, path, body) {
    const r = await api(method, path, body);
    if (!r.ok) return showError(r.body.error);
    message("ok", () => t("idl_going"));
    location.assign(r.body.authorization_url);
  }

  // R-CRED-4: the link is an OpenID Connect sign-in at the provider, which comes back to
  // /api/identity-link/callback and from there to this page with ?linked=1 or ?error=reason.
  async function viewIdentityLink() {
    const back = takeQuery("identity-link");
    const r = await api("GET", "/api/identity-link");
    if (!r.ok) return showError(r.body.error), el("div");
    const s = r.body;
    if (back?.get("linked")) state.flash = { kind: "ok", text: () => t("idl_done_link") };
    else if (back?.get("error")) {
      const reason = back.get("error");
      state.flash = { kind: "error", text: () => oidcError(reason) };
    }
    const status = el("section", { class: "panel", id: "idl-state" }, el("h3", {}, t("idl_state_title")),
      el("p", {}, s.linked ? t("idl_linked_to", s.issuer, date(s.linked_at)) : t("idl_not_linked")),
      s.provider_configured ? null : el("p", { class: "hint" }, t("idl_no_provider")));
    // A link is a way back into the account: making or removing one takes the current password
    // (R-SEC-1), so that a session left open cannot link someone else's provider account.
    const current = currentPasswordField("idl-current", t("current_utokyo_hint"));
    const linkForm = el("form", { class: "panel" }, s.provider_configured ? current.nodes : null,
      el("div", { class: "actions" }, el("button", { type: "submit", disabled: !s.provider_configured, id: "idl-link" }, s.linked ? t("idl_relink") : t("idl_link_button"))));
    linkForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!(await confirmStep(t("idl_confirm_link")))) return;
      await goToProvider("POST", "/api/identity-link/start", { current_password: current.input.value });
    });
    let unlinkForm = null;
    if (s.linked) {
      const again = currentPasswordField("idl-unlink-current", t("current_utokyo_hint"));
      unlinkForm = el("form", { class: "panel" }, again.nodes,
        el("div", { class: "actions" }, el("button", { type: "submit", class: "secondary", id: "idl-unlink" }, t("idl_unlink_button"))));
      unlinkForm.addEventListener("submit", async (e) => {
        e.preventDefault();
        if (!(await confirmStep(t("idl_confirm_unlink")))) return;
        const done = await act("DELETE", "/api/identity-link", { current_password: again.input.value });
        if (done) {
          await loadMe();
          await render();
          message("ok", () => t("idl_done_unlink"));
        }
      });
    }
    return el("div", {}, el("h2", {}, t("identity_link")), el("p", {}, t("idl_intro")), status, linkForm, unlinkForm);
  }

  // R-CRED-4: "パスワードを忘れた方 / Forgot your password" — the account id, then the provider.
  function viewForgot() {
    const account = el("input", { id: "forgot-account", type: "text", required: true, inputmode: "numeric", autocomplete: "username", autocapitalize: "off", spellcheck: "false" });
    const form = el("form", { class: "panel", "aria-labelledby": "forgot-title" },
      el("h2", { id: "forgot-title" }, t("forgot_title")), el("p", {}, t("forgot_intro")),
      field("forgot-account", t("account"), account),
      el("div", { class: "actions" }, el("button", { type: "submit" }, t("forgot_button"))));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      await goToProvider("POST", "/api/password-reset/start", { account: account.value.trim() });
    });
    return el("div", {}, form, el("p", {}, el("a", { href: "#/login" }, t("back_to_login"))));
  }

  // The provider's round trip ends here: ?grant=…&expires_at=… (kept in memory, gone from the
  // address bar at once), or ?error=reason.
  let resetGrant = null;
  function viewPasswordReset() {
    const back = takeQuery("password-reset");
    if (back?.get("grant")) resetGrant = { grant: back.get("grant"), expiresAt: back.get("expires_at") };
    const again = el("p", {}, el("a", { href: "#/forgot" }, t("forgot_link")), " · ", el("a", { href: "#/login" }, t("back_to_login")));
    if (back?.get("error") || !resetGrant) {
      const reason = back?.get("error");
      return el("div", {}, el("section", { class: "panel", role: "alert" }, el("h2", {}, t("reset_title")),
        el("p", { id: "reset-error" }, reason ? oidcError(reason) : t("reset_no_grant"))), again);
    }
    const removeFactor = el("input", { id: "reset-remove-sf", type: "checkbox" });
    const form = passwordForm("reset", async (password, reset) => {
      const r = await api("POST", "/api/password-reset", { grant: resetGrant.grant, new_password: password, remove_second_factor: removeFactor.checked });
      // Used, expired, or the account changed meanwhile: this grant is over; start again.
      if (!r.ok && r.body?.error?.code === "reset_not_possible") {
        resetGrant = null;
        await render();
        return showError(r.body.error);
      }
      const done = r.ok ? r.body : (showError(r.body.error), null);
      if (done) {
        reset();
        resetGrant = null;
        state.flash = { kind: "ok", text: () => t("reset_done") };
        location.hash = "#/login";
      }
    });
    form.prepend(el("h2", {}, t("reset_title")), el("p", {}, t("reset_intro", resetGrant.expiresAt ? jst(resetGrant.expiresAt, true) : "—")));
    form.querySelector(".actions").before(el("label", { class: "choice", for: "reset-remove-sf" }, removeFactor, t("reset_remove_sf")));
    return el("div", {}, form, again);
  }

  // ---------------------------------------------------------------- help desk

  function keysTable(keys) {
    // A long list scrolls in its own box (the heading stays in view); the download holds them all.
    return el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": t("keys_caption") },
      table("keys", t("keys_caption"), ["account", "act_key", "expires"],
        keys.map((k) => el("tr", {}, el("td", {}, k.account), el("td", { class: "key" }, k.activation_key), el("td", {}, date(k.expires_at))))));
  }

  /** The keys as a CSV file for the printed notices: they are shown only this once. */
  function keysDownload(keys) {
    const rows = [["account", "activation_key", "expires_at"], ...keys.map((k) => [k.account, k.activation_key, k.expires_at])];
    const blob = new Blob([rows.map((r) => r.join(",")).join("\r\n") + "\r\n"], { type: "text/csv" });
    return el("a", { href: URL.createObjectURL(blob), download: "activation-keys.csv", class: "button" }, t("keys_download"));
  }

  /** The registrar file's columns (R-LC-1), in the order of the template; the last two optional. */
  const IMPORT_COLUMNS = ["id", "kind", "name_ja", "name_en", "department_code", "department_ja", "department_en", "valid_from", "valid_until", "birth_date", "phone"];
  const TEMPLATE_ROW = ["2400000001", "student", "東大 花子", "Hanako Todai", "D03", "理学部", "Faculty of Science", "2027-04-01", "2031-03-31", "2008-05-01", "090-1234-5678"];

  /** A template CSV: UTF-8 with a BOM, so that Excel opens it as UTF-8; header and one example row. */
  function templateDownload() {
    const blob = new Blob([`\uFEFF${IMPORT_COLUMNS.join(",")}\r\n${TEMPLATE_ROW.join(",")}\r\n`], { type: "text/csv;charset=utf-8" });
    return el("a", { href: URL.createObjectURL(blob), download: "accounts-template.csv", class: "button", id: "import-template" }, t("import_template"));
  }

  function columnsPanel() {
    return el("section", { class: "panel", "aria-labelledby": "import-columns-title" },
      el("h3", { id: "import-columns-title" }, t("import_columns_title")),
      el("p", { class: "hint" }, t("import_columns_intro")),
      el("dl", { class: "facts columns", id: "import-columns" },
        IMPORT_COLUMNS.map((c) => [el("dt", {}, el("code", {}, c)), el("dd", {}, t(`import_columns.${c}`))])),
      templateDownload());
  }

  /**
   * The file's text: UTF-8 (a BOM dropped) when it is valid UTF-8, else Shift_JIS (what Japanese
   * Excel saves as "CSV"), else null: a file in neither is refused rather than read as mojibake.
   */
  function decodeImport(buffer) {
    const bytes = new Uint8Array(buffer);
    for (const [label, encoding] of [["utf-8", "utf8"], ["shift_jis", "sjis"]]) {
      try {
        return { text: new TextDecoder(label, { fatal: true }).decode(bytes).replace(/^\uFEFF/, ""), encoding };
      } catch {}
    }
    return null;
  }

  // What the import page showed (the keys are shown only once): kept across a language switch;
  // so is a key issued on the lookup.
  let importShown = null;
  let issuedShown = null;

  function viewImport() {
    const file = el("input", { id: "import-file", type: "file", required: true, accept: ".jsonl,.ndjson,.csv,text/csv,application/x-ndjson", "aria-describedby": "import-file-hint import-encoding" });
    const encodingNote = el("p", { id: "import-encoding", class: "hint", role: "status", "aria-live": "polite" });
    const progress = el("progress", { id: "import-progress", max: "1", value: "0", hidden: true, "aria-labelledby": "import-status" });
    const status = el("p", { id: "import-status", role: "status", "aria-live": "polite" });
    const result = el("div", { id: "import-result" });
    const button = el("button", { type: "submit" }, t("import"));
    const form = el("form", { class: "panel" }, el("h2", {}, t("import_title")), el("p", {}, t("import_intro")),
      field("import-file", t("import_file"), file, t("import_hint")), encodingNote, el("div", { class: "actions" }, button), progress, status);

    // Texts of the page as functions of the language, so that a switch says them again.
    const shown = state.relang && importShown?.hash === location.hash ? importShown : { hash: location.hash };
    importShown = shown;
    const draw = () => {
      encodingNote.textContent = shown.encoding ? t("import_read_as", t(`encodings.${shown.encoding}`)) : "";
      status.textContent = shown.status ? shown.status() : "";
      if (shown.progress != null) {
        progress.hidden = false;
        progress.value = shown.progress;
      }
      result.replaceChildren(...(shown.sum ? [summary(shown.sum)] : []));
    };
    const setStatus = (fn) => {
      shown.status = fn;
      status.textContent = fn();
    };

    /** The chosen file read: its text and encoding shown, or the refusal said; null if refused. */
    async function read(chosen) {
      const decoded = decodeImport(await chosen.arrayBuffer());
      shown.encoding = decoded?.encoding ?? null;
      encodingNote.textContent = decoded ? t("import_read_as", t(`encodings.${decoded.encoding}`)) : "";
      if (!decoded) message("error", () => t("import_encoding_unknown"));
      return decoded;
    }

    file.addEventListener("change", () => {
      const chosen = file.files[0];
      if (chosen) read(chosen);
    });

    async function send(parts, total, dryRun, onDone) {
      let done = 0;
      for (const part of parts) {
        const counted = done;
        setStatus(() => t(dryRun ? "import_checking" : "import_importing", counted, total));
        const r = await api("POST", "/api/admin/accounts/import", { format: part.format, data: part.data, dry_run: dryRun });
        if (!r.ok) {
          const error = r.body.error ?? {};
          const lines = error.details?.lines ?? [];
          // The server names the field and the rule in both languages ("日本語 / English").
          showError(error, () => lines.map((l) => t("import_line", part.fileLine(l.line), localized(l.reason))));
          return false;
        }
        done += part.count;
        progress.value = shown.progress = done / total;
        onDone(r.body);
      }
      return true;
    }

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const chosen = file.files[0];
      if (!chosen) return;
      const format = /\.csv$/i.test(chosen.name) || chosen.type === "text/csv" ? "csv" : "jsonl";
      const decoded = await read(chosen);
      if (!decoded) return;
      const split = importParts(decoded.text, format);
      if (split.error) return message("error", () => t("import_too_long", split.error));
      if (split.total === 0) return message("error", () => t("import_empty"));
      split.parts.forEach((p) => (p.format = format));
      if (!(await confirmStep(t("import_confirm", chosen.name, split.total, t(`encodings.${decoded.encoding}`))))) return;
      button.disabled = true;
      progress.hidden = false;
      result.replaceChildren();
      shown.sum = null;
      try {
        // Every part is checked before any is imported: a bad line anywhere imports nothing.
        progress.value = shown.progress = 0;
        // Columns the import does not use are ignored, and said (the registrar's extra columns).
        const ignored = new Set();
        const checked = await send(split.parts, split.total, true, (r) => (r.ignored_columns ?? []).forEach((c) => ignored.add(c)));
        if (!checked) return setStatus(() => t("import_nothing"));
        const sum = { created: 0, updated: 0, unchanged: 0, conflicts: [], keys: [], ignored: [...ignored] };
        shown.sum = sum;
        progress.value = shown.progress = 0;
        const ok = await send(split.parts, split.total, false, (r) => {
          sum.created += r.created;
          sum.updated += r.updated;
          sum.unchanged += r.unchanged;
          sum.conflicts.push(...r.conflicts);
          sum.keys.push(...r.activation_keys);
          result.replaceChildren(summary(sum));
        });
        setStatus(() => (ok ? t("import_finished", split.total) : t("import_stopped")));
        if (ok) message("ok", () => t("import_done", sum.created, sum.updated, sum.unchanged));
      } finally {
        button.disabled = false;
      }
    });

    function summary(sum) {
      return el("section", { class: "panel" },
        el("dl", { class: "facts" },
          el("dt", {}, t("created")), el("dd", { id: "sum-created" }, sum.created),
          el("dt", {}, t("updated")), el("dd", { id: "sum-updated" }, sum.updated),
          el("dt", {}, t("unchanged")), el("dd", { id: "sum-unchanged" }, sum.unchanged),
          el("dt", {}, t("conflicts")), el("dd", {}, sum.conflicts.length ? sum.conflicts.join(", ") : "0"),
          sum.ignored.length ? [el("dt", {}, t("ignored_columns")), el("dd", { id: "sum-ignored" }, sum.ignored.join(", "))] : null),
        sum.keys.length ? [el("p", { class: "hint" }, t("keys_once")), keysDownload(sum.keys), keysTable(sum.keys)] : null);
    }
    draw();
    return el("div", {}, form, result, columnsPanel());
  }

  async function viewAccounts() {
    const id = decodeURIComponent(location.hash.split("/")[2] ?? "");
    const input = el("input", { id: "lookup-id", type: "text", required: true, inputmode: "numeric", autocomplete: "off", value: id });
    const search = el("form", { class: "panel" }, el("h2", {}, t("lookup_title")), field("lookup-id", t("account"), input),
      el("div", { class: "actions" }, el("button", { type: "submit" }, t("lookup"))));
    search.addEventListener("submit", (e) => {
      e.preventDefault();
      location.hash = `#/admin-accounts/${encodeURIComponent(input.value.trim())}`;
    });
    if (!id) return search;
    const path = `/api/admin/accounts/${encodeURIComponent(id)}`;
    const [r, audit] = await Promise.all([api("GET", path), api("GET", `${path}/audit`)]);
    if (!r.ok) return showError(r.body.error), search;
    const a = r.body;
    const p = a.profile;
    // The key as it is: none, issued (for an activated account, a reset key), or past its expiry.
    const key = a.activation;
    const expired = key.outstanding && key.expires_at && new Date(key.expires_at).getTime() <= Date.now();
    const keyState = !key.outstanding ? t("no_key")
      : `${expired ? t("key_expired", date(key.expires_at)) : t("key_outstanding", date(key.expires_at))}${p.initial_password_changed ? t("key_is_reset") : ""}`;
    const facts = el("dl", { class: "facts", id: "lookup-facts" },
      el("dt", {}, t("account")), el("dd", {}, p.account),
      el("dt", {}, t("name")), el("dd", {}, state.lang === "en" ? p.name.en : p.name.ja),
      el("dt", {}, t("kind_label")), el("dd", {}, t(`kind.${p.kind}`)),
      el("dt", {}, t("department")), el("dd", {}, state.lang === "en" ? p.department.en : p.department.ja),
      el("dt", {}, t("account_status")), el("dd", {}, t(`account_states.${a.status}`)),
      el("dt", {}, t("lock")), el("dd", { id: "lookup-lock-state" }, a.lock ? t("locked_short") : t("not_locked")),
      el("dt", {}, t("valid_period")), el("dd", {}, `${day(p.valid_from)} – ${day(p.valid_until)}`),
      el("dt", {}, t("eccs_right")), el("dd", {}, a.right.valid ? t("right_yes", day(a.right.valid_until)) : t("right_no")),
      el("dt", {}, t("cloud_mail_address")), el("dd", {}, a.mail_address),
      el("dt", {}, t("activation")), el("dd", { id: "lookup-activation" }, p.initial_password_changed ? t("activated") : t("not_activated")),
      el("dt", {}, t("act_key")), el("dd", { id: "lookup-key" }, keyState),
      el("dt", {}, t("identity_link")), el("dd", {}, a.identity ? t("idl_linked_to", a.identity.issuer, date(a.identity.linked_at)) : t("idl_not_linked")),
      el("dt", {}, t("two_step")), el("dd", { id: "lookup-two-step" }, a.second_factor
        ? t("desk_two_step_on", date(a.second_factor.enrolled_at), a.second_factor.recovery_codes_left) : t("desk_two_step_off")),
      el("dt", {}, t("renewal")), el("dd", {}, a.renewal_pending ? t("renewal_pending") : t("renewal_none")));

    // R-SEC-4: a locked account says so first, with why, who and when.
    const lockBanner = a.lock ? el("p", { class: "locked", id: "lookup-lock" },
      t("locked_banner", a.lock.reason, a.lock.by, date(a.lock.at))) : null;
    const lockPanel = a.lock ? (() => {
      const form = el("form", { class: "panel", "aria-labelledby": "lock-title" }, el("h3", { id: "lock-title" }, t("lock_title")),
        el("p", { class: "hint" }, t("unlock_hint")),
        el("div", { class: "actions" }, el("button", { type: "submit" }, t("unlock"))));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        if (!(await confirmStep(t("unlock_confirm", p.account)))) return;
        if (await act("PUT", `${path}/lock`, { locked: false })) {
          await render();
          message("ok", () => t("unlock_done", p.account));
        }
      });
      return form;
    })() : (() => {
      const reason = el("input", { id: "lock-reason", type: "text", required: true, maxlength: "500", autocomplete: "off", "aria-describedby": "lock-reason-hint" });
      const form = el("form", { class: "panel", "aria-labelledby": "lock-title" }, el("h3", { id: "lock-title" }, t("lock_title")),
        el("p", { class: "hint" }, t("lock_hint")),
        field("lock-reason", t("lock_reason"), reason, t("lock_reason_hint")),
        el("div", { class: "actions" }, el("button", { type: "submit" }, t("lock_button"))));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const why = reason.value.trim();
        if (!why) return message("error", () => t("lock_reason_missing"));
        if (!(await confirmStep(t("lock_confirm", p.account, why)))) return;
        if (await act("PUT", `${path}/lock`, { locked: true, reason: why })) {
          await render();
          message("ok", () => t("lock_done", p.account));
        }
      });
      return form;
    })();

    // R-LC-4: a key for an activated account is a password reset and needs the in-person check,
    // unless the account is linked to the identity verification service (R-CRED-4, verified by
    // an OpenID Connect sign-in); a first key needs none.
    const reset = p.initial_password_changed;
    const documentRequired = reset && !a.identity;
    const shown = el("div", { id: "key-shown" });
    // A key just issued is shown only once: a language switch draws it again, a new visit does not.
    if (!(state.relang && issuedShown?.hash === location.hash)) issuedShown = null;
    const showKey = (k) => shown.replaceChildren(el("p", { class: "hint" }, t("keys_once")), keysTable([k]));
    if (issuedShown) showKey(issuedShown.key);
    const doc = el("select", { id: "in-person", required: documentRequired, "aria-describedby": "in-person-hint" },
      el("option", { value: "" }, documentRequired ? t("in_person_choose") : t("in_person_none")), DOCUMENTS.map((d) => el("option", { value: d }, t(`documents.${d}`))));
    const issue = el("form", { class: "panel" }, el("h3", {}, t("issue_key")),
      field("in-person", t("in_person"), doc, !reset ? t("issue_hint") : documentRequired ? t("issue_hint_reset") : t("issue_hint_reset_linked")),
      el("div", { class: "actions" }, el("button", { type: "submit" }, t("issue"))), shown);
    issue.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!(await confirmStep(t("issue_confirm", p.account)))) return;
      const body = { action: "issue", ...(doc.value ? { in_person_check: { document: doc.value } } : {}) };
      const done = await act("POST", `${path}/activation-key`, body);
      if (done) {
        message("ok", () => t("issue_done", date(done.expires_at)));
        issuedShown = { hash: location.hash, key: done };
        showKey(done);
        // The key stays on screen (it is shown only once); the audit below catches up.
        const fresh = await api("GET", `${path}/audit`);
        if (fresh.ok) auditPanel.replaceWith((auditPanel = auditSection(fresh.body.items)));
      }
    });
    const days = el("input", { id: "extend-days", type: "number", min: "1", max: "90", required: true, value: "30", "aria-describedby": "extend-days-hint" });
    const extend = el("form", { class: "panel" }, el("h3", {}, t("extend_key")),
      field("extend-days", t("days"), days, t("extend_hint", date(a.activation.expires_at))),
      el("div", { class: "actions" }, el("button", { type: "submit" }, t("extend"))));
    extend.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!(await confirmStep(t("extend_confirm", Number(days.value))))) return;
      const done = await act("POST", `${path}/activation-key`, { action: "extend", days: Number(days.value) });
      if (done) {
        await render();
        message("ok", () => t("extend_done", date(done.expires_at)));
      }
    });
    const renewal = el("form", { class: "panel" }, el("h3", {}, t("renewal")), el("p", { class: "hint" }, t("renewal_hint")),
      el("div", { class: "actions" }, el("button", { type: "submit" }, a.renewal_pending ? t("renewal_settle") : t("renewal_mark"))));
    renewal.addEventListener("submit", async (e) => {
      e.preventDefault();
      const pending = !a.renewal_pending;
      if (!(await confirmStep(pending ? t("renewal_mark") : t("renewal_settle")))) return;
      if (await act("PUT", `${path}/renewal`, { pending })) {
        await render();
        message("ok", () => t("saved"));
      }
    });
    const mails = (a.messages ?? []).map((m) => el("tr", {}, el("td", {}, date(m.queued_at)), el("td", {}, t(`mail_kinds.${m.kind}`)),
      el("td", {}, m.to), el("td", {}, t(`mail_states.${m.state}`)), el("td", {}, m.attempts), el("td", {}, m.last_error ?? "")));
    // The audit as people read it: the action's name, and what changed, field by field, from
    // what it was to what it became (not the record's raw JSON).
    // The name people read, and the action's id beside it (what operators search for).
    const actionName = (action) => {
      const name = t("audit_actions")?.[action];
      return name ? el("span", {}, name, " ", el("small", { class: "hint" }, action)) : action;
    };
    const auditValue = (v) => {
      if (v == null || v === "") return "—";
      if (typeof v === "boolean") return t(v ? "audit_yes" : "audit_no");
      if (Array.isArray(v)) return v.map(auditValue).join(", ");
      if (typeof v === "object") return Object.entries(v).map(([k, x]) => `${t("audit_fields")?.[k] ?? k}: ${auditValue(x)}`).join("; ");
      if (typeof v === "string" && /^\d{4}-\d{2}-\d{2}T/.test(v)) return date(v);
      return String(v);
    };
    const changes = (before, after) => {
      const b = before && typeof before === "object" ? before : {};
      const a = after && typeof after === "object" ? after : {};
      const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]));
      if (!keys.length) return el("span", {}, "—");
      return el("ul", { class: "changes" }, keys.map((k) =>
        el("li", {}, `${t("audit_fields")?.[k] ?? k}: ${auditValue(b[k])} → ${auditValue(a[k])}`)));
    };
    const auditSection = (items) => {
      const rows = items.map((x) => el("tr", {}, el("td", {}, date(x.at)), el("td", {}, actionName(x.action)),
        el("td", {}, x.actor), el("td", {}, x.on_behalf_of ?? ""), el("td", {}, changes(x.before, x.after))));
      return el("section", { class: "panel" }, el("h3", {}, t("audit")),
        rows.length ? wide(t("audit"), table("audit", t("audit"), ["h_at", "h_action", "h_actor", "h_on_behalf", "h_after"], rows)) : el("p", {}, t("none")));
    };
    let auditPanel = auditSection(audit.ok ? audit.body.items : []);
    return el("div", {}, search, el("section", { class: "panel" }, el("h3", {}, t("lookup_result")), lockBanner, facts), lockPanel,
      signInsSection(a.sign_ins ?? []), a.second_factor ? factorRemoval(p, path) : null, issue,
      a.activation.outstanding ? extend : null, renewal,
      el("section", { class: "panel" }, el("h3", {}, t("mail_sent")), mails.length ? wide(t("mail_sent"), table("mails", t("mail_sent"), ["h_queued", "h_kind", "h_to", "h_state", "h_attempts", "h_error"], mails)) : el("p", {}, t("none"))),
      auditPanel);
  }

  /** R-CRED-2: the last sign-in attempts, the lockouts first with the source that caused them. */
  function signInsSection(items) {
    const lockouts = items.filter((x) => x.result === "locked");
    return el("section", { class: "panel", "aria-labelledby": "desk-sign-ins-title" },
      el("h3", { id: "desk-sign-ins-title" }, t("desk_sign_ins")),
      lockouts.length ? el("div", { class: "alert", id: "desk-lockouts" }, el("p", {}, t("desk_lockouts")),
        el("ul", {}, lockouts.map((x) => el("li", {}, t("desk_lockout", x.source_ip || "—", date(x.at)))))) : null,
      items.length ? signInTable("desk-sign-ins", items) : el("p", {}, t("none")));
  }

  /** R-CRED-3: the help desk removes a second factor only after an in-person check (R-LC-4). */
  function factorRemoval(p, path) {
    const doc = el("select", { id: "totp-in-person", required: true, "aria-describedby": "totp-in-person-hint" },
      el("option", { value: "" }, t("in_person_choose")), DOCUMENTS.map((d) => el("option", { value: d }, t(`documents.${d}`))));
    // Checked here (said in the message area, like every other answer) rather than by the browser.
    const form = el("form", { class: "panel", id: "desk-totp", novalidate: true, "aria-labelledby": "desk-totp-title" },
      el("h3", { id: "desk-totp-title" }, t("desk_totp_title")),
      field("totp-in-person", t("in_person"), doc, t("desk_totp_hint")),
      el("div", { class: "actions" }, el("button", { type: "submit" }, t("desk_totp_remove"))));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!doc.value) return message("error", () => t("in_person_required_totp"));
      if (!(await confirmStep(t("desk_totp_confirm", p.account, t(`documents.${doc.value}`))))) return;
      if (await act("DELETE", `${path}/totp`, { in_person_check: { document: doc.value } })) {
        await render();
        message("ok", () => t("desk_totp_done", p.account));
      }
    });
    return form;
  }

  async function viewRuns() {
    const r = await api("GET", "/api/admin/runs");
    if (!r.ok) return showError(r.body.error), el("div");
    const runs = (title, id, items) => el("section", { class: "panel" }, el("h3", {}, title), items.length === 0 ? el("p", {}, t("none")) :
      table(id, null, ["h_started", "h_duration", "h_applied", "h_failed", "h_remaining", "h_read", "h_stopped", "h_mail"],
        items.map((x) => [
          el("tr", {}, el("td", {}, date(x.started_at)), el("td", {}, `${x.duration_ms} ms`), el("td", {}, x.applied), el("td", { class: x.failed ? "bad" : false }, x.failed),
            el("td", {}, x.remaining), el("td", {}, x.items_read), el("td", {}, t(`stopped.${x.stopped}`)),
            el("td", {}, t("run_mail", x.notices_queued ?? 0, x.messages_sent ?? 0, x.messages_failed ?? 0, x.links_expired ?? 0))),
          x.failures.length ? el("tr", {}, el("td", { colspan: "8" }, el("ul", {}, x.failures.map((f) => el("li", {}, `${f.account} ${f.kind}: ${f.error}`))))) : null,
        ])));
    return el("div", {}, el("h2", {}, t("runs")), el("p", {}, t("runs_intro")),
      runs(t("sync_runs"), "sync-runs", r.body.sync_hourly), runs(t("sweep_runs"), "sweep-runs", r.body.sweep_daily));
  }

  return {
    public: { activate: viewActivate, accept: viewAccept, forwarding: viewConfirmForwarding, forgot: viewForgot, "password-reset": viewPasswordReset },
    user: { conferencing: viewConferencing, "cloud-mail-forwarding": viewForwarding, "identity-link": viewIdentityLink },
    operator: { "admin-import": viewImport, "admin-accounts": viewAccounts, "admin-runs": viewRuns },
  };
}
