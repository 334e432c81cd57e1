/**
 * kakor admin page: sign in with a token, decisions chart and rates, lookup, export, integrity.
 *
 * No dependencies, no inline code (strict CSP). The token lives in memory only: a
 * reload signs out. Everything that comes from the server is written with
 * textContent or SVG attributes, never as HTML.
 */
"use strict";

(function () {
  /** UI texts, Swedish and English. */
  const TEXTS = {
    sv: {
      title: "Samtycken – administration",
      lang_switch: "In English",
      signin_title: "Logga in",
      token_label: "Åtkomsttoken",
      signin: "Logga in",
      token_help: "Skapa en token på servern med: consent-service token create --site …",
      site: "Webbplats",
      signout: "Logga ut",
      rates_title: "Beslut och samtycken över tid",
      since: "Från",
      until: "Till",
      show: "Visa",
      lookup_title: "Slå upp ett samtycke",
      consent_id: "Samtyckes-ID",
      lookup: "Sök",
      export_title: "Exportera loggen",
      export_help: "Raderna för vald period, äldst först, med ett manifest (antal rader, SHA-256, kedjans huvud).",
      export_csv: "Ladda ner CSV",
      export_jsonl: "Ladda ner JSONL",
      integrity_title: "Loggens integritet",
      verify: "Kontrollera kedjan",
      viewer_note: "Din token får bara se statistik.",
      role_officer: "dataskyddshandläggare",
      role_viewer: "läsbehörighet",
      signed_in_as: "Inloggad med token {id} ({role})",
      bad_token: "Fel eller återkallad token.",
      decisions: "Beslut",
      date: "Datum",
      allowed: "Tillåter {cat}",
      refused: "Nekar allt valfritt",
      gpc: "GPC-signal",
      no_data: "Inga beslut under perioden.",
      chart_caption: "{n} beslut under {d} dagar. Andelar av dagens beslut.",
      verified_yes: "Kedjan verifieras: raderna är oförändrade.",
      verified_no: "Varning: kedjan verifieras inte för minst en rad.",
      row: "Rad {seq}: {action}",
      texts_shown: "Texterna besökaren såg",
      texts_missing: "Texterna finns inte sparade.",
      proof: "Bevis",
      exporting: "Exporterar …",
      exported: "{file}: {rows} rader, SHA-256 {sha}.",
      sha_match: "Filens SHA-256 stämmer med manifestet.",
      sha_mismatch: "Filens SHA-256 stämmer INTE med manifestet.",
      checking: "Kontrollerar …",
      integrity_ok: "Intakt: {n} rader kontrollerade.",
      integrity_bad: "Bruten vid rad {seq} ({site}): {reason}. {n} rader kontrollerade.",
      error: "Fel: {msg}",
      field_created_at: "Tid (UTC)",
      field_choices: "Val",
      field_policy_version: "Policyversion",
      field_language: "Språk",
      field_page: "Sida",
      field_ip: "IP (minimerad)",
      field_browser: "Webbläsare",
      field_gpc: "GPC",
      field_texts_hash: "Texternas hash",
      field_widget_version: "Widgetversion",
      field_event_id: "Händelse-ID",
      field_prev_hash: "Föregående hash",
      field_hash: "Hash",
      yes: "ja",
      no: "nej",
      // The chart and its controls (stacked decisions per action, grouping, CSV, breakdowns).
      group: "Gruppera",
      group_day: "Dag",
      group_week: "Vecka",
      group_month: "Månad",
      chart_csv: "Diagrammets data (CSV)",
      act_accept_all: "Godkänner allt",
      act_reject_all: "Nekar allt",
      act_save: "Eget val",
      act_gpc: "GPC-signal",
      period_start: "Period från",
      stacked_caption: "{n} beslut i {p} perioder, staplade per val.",
      by_language: "Samtyckesgrad per språk",
      by_policy_version: "Samtyckesgrad per policyversion",
      by_browser: "Samtyckesgrad per webbläsare",
      top_pages: "Sidor där besluten fattas",
      value: "Värde",
      page_col: "Sida",
      consent_rate: "Samtyckesgrad",
      share_col: "Andel",
      other_pages: "Övriga sidor",
    },
    en: {
      title: "Consents – administration",
      lang_switch: "På svenska",
      signin_title: "Sign in",
      token_label: "Access token",
      signin: "Sign in",
      token_help: "Create a token on the server with: consent-service token create --site …",
      site: "Site",
      signout: "Sign out",
      rates_title: "Decisions and consent over time",
      since: "From",
      until: "To",
      show: "Show",
      lookup_title: "Look up a consent",
      consent_id: "Consent ID",
      lookup: "Look up",
      export_title: "Export the log",
      export_help: "The rows of the chosen period, oldest first, with a manifest (row count, SHA-256, chain head).",
      export_csv: "Download CSV",
      export_jsonl: "Download JSONL",
      integrity_title: "Log integrity",
      verify: "Check the chain",
      viewer_note: "Your token may only see statistics.",
      role_officer: "privacy officer",
      role_viewer: "viewer",
      signed_in_as: "Signed in with token {id} ({role})",
      bad_token: "Wrong or revoked token.",
      decisions: "Decisions",
      date: "Date",
      allowed: "Allows {cat}",
      refused: "Refuses all optional",
      gpc: "GPC signal",
      no_data: "No decisions in this period.",
      chart_caption: "{n} decisions over {d} days. Shares of each day's decisions.",
      verified_yes: "The chain verifies: the rows are unchanged.",
      verified_no: "Warning: the chain does not verify for at least one row.",
      row: "Row {seq}: {action}",
      texts_shown: "The texts the visitor saw",
      texts_missing: "The texts are not stored.",
      proof: "Proof",
      exporting: "Exporting …",
      exported: "{file}: {rows} rows, SHA-256 {sha}.",
      sha_match: "The file's SHA-256 matches the manifest.",
      sha_mismatch: "The file's SHA-256 does NOT match the manifest.",
      checking: "Checking …",
      integrity_ok: "Intact: {n} rows checked.",
      integrity_bad: "Broken at row {seq} ({site}): {reason}. {n} rows checked.",
      error: "Error: {msg}",
      field_created_at: "Time (UTC)",
      field_choices: "Choices",
      field_policy_version: "Policy version",
      field_language: "Language",
      field_page: "Page",
      field_ip: "IP (minimised)",
      field_browser: "Browser",
      field_gpc: "GPC",
      field_texts_hash: "Texts hash",
      field_widget_version: "Widget version",
      field_event_id: "Event ID",
      field_prev_hash: "Previous hash",
      field_hash: "Hash",
      yes: "yes",
      no: "no",
      // The chart and its controls (stacked decisions per action, grouping, CSV, breakdowns).
      group: "Group by",
      group_day: "Day",
      group_week: "Week",
      group_month: "Month",
      chart_csv: "Chart data (CSV)",
      act_accept_all: "Accept all",
      act_reject_all: "Reject all",
      act_save: "Custom choice",
      act_gpc: "GPC signal",
      period_start: "Period from",
      stacked_caption: "{n} decisions in {p} periods, stacked by choice.",
      by_language: "Consent rate by language",
      by_policy_version: "Consent rate by policy version",
      by_browser: "Consent rate by browser",
      top_pages: "Pages where decisions are made",
      value: "Value",
      page_col: "Page",
      consent_rate: "Consent rate",
      share_col: "Share",
      other_pages: "Other pages",
    },
  };
  const PROOF_FIELDS = [
    "created_at", "choices", "policy_version", "language", "page", "ip", "browser", "gpc",
    "texts_hash", "widget_version", "event_id", "prev_hash", "hash",
  ];
  const COLOURS = ["#005a8c", "#b35900", "#6b3fa0", "#1d6b2f", "#a3121b", "#3d3d3d"];
  const SVG = "http://www.w3.org/2000/svg";

  const state = { lang: "sv", token: null, me: null, stats: null, lastLookup: null };
  const $ = (id) => document.getElementById(id);

  function t(key, values) {
    let text = (TEXTS[state.lang] && TEXTS[state.lang][key]) || TEXTS.en[key] || key;
    for (const [name, value] of Object.entries(values || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function percent(share) {
    return new Intl.NumberFormat(state.lang, { style: "percent", maximumFractionDigits: 1 }).format(share);
  }

  function applyTexts() {
    document.documentElement.lang = state.lang;
    document.title = t("title");
    for (const node of document.querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n);
    }
    const other = state.lang === "sv" ? "en" : "sv";
    $("lang").textContent = t("lang_switch");
    $("lang").lang = other;
    if (state.me) showWho();
    if (state.stats) renderStats(state.stats);
    if (state.lastLookup) renderLookup(state.lastLookup);
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, options) {
    const response = await fetch(path, {
      ...(options || {}),
      headers: { Authorization: "Bearer " + state.token },
      cache: "no-store",
      credentials: "omit",
    });
    if (!response.ok) {
      let message = response.statusText;
      try {
        message = (await response.json()).error.message;
      } catch (_) { /* not the error shape */ }
      throw new ApiError(response.status, message);
    }
    return response;
  }

  function sitePath(rest) {
    return "/admin/v1/sites/" + encodeURIComponent($("site").value) + rest;
  }

  function periodQuery() {
    const query = new URLSearchParams();
    if ($("since").value) query.set("since", $("since").value);
    if ($("until").value) query.set("until", $("until").value);
    return query;
  }

  /* ---------- sign in ---------- */

  async function signIn(event) {
    event.preventDefault();
    const error = $("signin-error");
    error.hidden = true;
    state.token = $("token").value.trim();
    try {
      state.me = await (await api("/admin/v1/me")).json();
    } catch (err) {
      state.token = null;
      error.textContent = err.status === 401 ? t("bad_token") : t("error", { msg: err.message });
      error.hidden = false;
      return;
    }
    $("token").value = "";
    const select = $("site");
    select.replaceChildren();
    for (const site of state.me.sites) {
      const option = el("option", site.name === site.id ? site.id : site.name + " · " + site.id);
      option.value = site.id;
      select.append(option);
    }
    const officer = state.me.role === "officer";
    for (const node of document.querySelectorAll(".officer")) node.hidden = !officer;
    $("viewer-note").hidden = officer;
    $("signin").hidden = true;
    $("app").hidden = false;
    showWho();
    await loadStats();
  }

  function showWho() {
    $("who").textContent = t("signed_in_as", {
      id: state.me.token_id,
      role: t("role_" + state.me.role),
    });
  }

  function signOut() {
    state.token = null;
    state.me = null;
    state.stats = null;
    state.lastLookup = null;
    $("app").hidden = true;
    $("signin").hidden = false;
    $("lookup-result").replaceChildren();
    $("export-result").replaceChildren();
    $("integrity-status").textContent = "";
    $("token").focus();
  }

  /* ---------- rates ---------- */

  async function loadStats(event) {
    if (event) event.preventDefault();
    const query = periodQuery();
    query.set("group", $("group").value);
    try {
      state.stats = await (await api(sitePath("/stats?" + query))).json();
      renderStats(state.stats);
    } catch (err) {
      $("chart-caption").textContent = t("error", { msg: err.message });
    }
  }

  function seriesOf(stats) {
    const series = stats.optional_categories.map((cat) => ({
      key: "allowed:" + cat,
      label: t("allowed", { cat: cat }),
      value: (day) => day.allowed[cat] || 0,
    }));
    series.push({ key: "refused", label: t("refused"), value: (day) => day.refused_share });
    series.push({ key: "gpc", label: t("gpc"), value: (day) => day.gpc_share });
    return series;
  }

  /** The chart's series: decisions per action, stacked, so equal counts never hide each other. */
  const ACTIONS = ["accept-all", "reject-all", "save", "gpc"];

  function renderStats(stats) {
    const points = stats.series || stats.days;
    const series = seriesOf(stats);
    renderChart(points);
    $("chart-caption").textContent = points.length
      ? t("stacked_caption", { n: stats.totals.decisions, p: points.length })
      : t("no_data");
    const legend = $("legend");
    legend.replaceChildren();
    ACTIONS.forEach((action, i) => {
      const item = el("li");
      item.append(el("span", null, "swatch s" + i), el("span", t("act_" + action.replace("-", "_"))));
      legend.append(item);
    });
    const head = $("rates-table").tHead.rows[0];
    head.replaceChildren(el("th", t(stats.group === "day" ? "date" : "period_start")), el("th", t("decisions")));
    for (const action of ACTIONS) head.append(el("th", t("act_" + action.replace("-", "_"))));
    for (const s of series) head.append(el("th", s.label));
    const body = $("rates-table").tBodies[0];
    body.replaceChildren();
    for (const point of points) {
      const row = el("tr");
      row.append(el("td", point.date), el("td", point.decisions, "num"));
      for (const action of ACTIONS) row.append(el("td", (point.actions || {})[action] || 0, "num"));
      for (const s of series) row.append(el("td", percent(s.value(point)), "num"));
      body.append(row);
    }
    renderBreakdowns(stats);
  }

  function breakdownTable(id, title, rows, cells, headers) {
    const table = el("table", null, "data");
    table.id = id;
    table.append(el("caption", title));
    const head = el("tr");
    for (const h of headers) head.append(el("th", h));
    table.append(el("thead"));
    table.tHead.append(head);
    const body = el("tbody");
    for (const r of rows) {
      const tr = el("tr");
      cells(r).forEach((c, i) => tr.append(el("td", c, i ? "num" : "")));
      body.append(tr);
    }
    table.append(body);
    return table;
  }

  function renderBreakdowns(stats) {
    const out = $("breakdowns");
    out.replaceChildren();
    for (const member of ["by_language", "by_policy_version", "by_browser"]) {
      out.append(breakdownTable(member, t(member), stats[member] || [],
        (r) => [r.value, r.decisions, percent(r.consent_rate)],
        [t("value"), t("decisions"), t("consent_rate")]));
    }
    const pages = (stats.top_pages || []).map((p) => [p.page, p.decisions, percent(p.share)]);
    if (stats.other_pages) {
      pages.push([t("other_pages"), stats.other_pages, percent(stats.other_pages / (stats.totals.decisions || 1))]);
    }
    out.append(breakdownTable("top_pages", t("top_pages"), pages, (r) => r,
      [t("page_col"), t("decisions"), t("share_col")]));
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  /** A stacked bar per period: one segment per action, in a fixed order, with its count. */
  function renderChart(points) {
    const width = 720, height = 280, left = 48, right = 16, top = 16, bottom = 40;
    const plotW = width - left - right, plotH = height - top - bottom;
    const root = svg("svg", {
      viewBox: "0 0 " + width + " " + height,
      role: "img",
      "aria-label": t("rates_title"),
      "data-days": points.length,
    });
    const most = Math.max(1, ...points.map((p) => p.decisions));
    for (const level of [0, 0.25, 0.5, 0.75, 1]) {
      const y = top + plotH - level * plotH;
      root.append(svg("line", { x1: left, x2: width - right, y1: y, y2: y, class: level ? "grid" : "axis" }));
      root.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, Math.round(level * most)));
    }
    const slot = plotW / Math.max(points.length, 1);
    const barW = Math.max(1, Math.min(48, slot * 0.8));
    const every = Math.max(1, Math.ceil(points.length / 8));
    points.forEach((point, i) => {
      const x = left + i * slot + (slot - barW) / 2;
      let base = top + plotH;
      ACTIONS.forEach((action, a) => {
        const n = (point.actions || {})[action] || 0;
        const h = (n / most) * plotH;
        base -= h;
        const bar = svg("rect", {
          x: x.toFixed(1), y: base.toFixed(1), width: barW.toFixed(1), height: h.toFixed(1),
          fill: COLOURS[a], class: "bar", "data-series": action, "data-date": point.date, "data-value": n,
        });
        bar.append(svg("title", {}, t("act_" + action.replace("-", "_")) + ", " + point.date + ": " + n));
        root.append(bar);
      });
      if (i % every === 0 || i === points.length - 1) {
        root.append(svg("text", { x: (x + barW / 2).toFixed(1), y: height - 18, "text-anchor": "middle" }, point.date));
      }
    });
    $("chart").replaceChildren(root);
  }

  async function chartCsv() {
    const query = periodQuery();
    query.set("group", $("group").value);
    try {
      const response = await api(sitePath("/stats.csv?" + query));
      const disposition = response.headers.get("Content-Disposition") || "";
      const match = /filename="([^"]+)"/.exec(disposition);
      const link = el("a");
      link.href = URL.createObjectURL(await response.blob());
      link.download = match ? match[1] : "kakor-stats.csv";
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    } catch (err) {
      $("chart-caption").textContent = t("error", { msg: err.message });
    }
  }

  /* ---------- lookup ---------- */

  async function lookup(event) {
    event.preventDefault();
    const id = $("consent-id").value.trim();
    const out = $("lookup-result");
    out.replaceChildren();
    try {
      state.lastLookup = await (await api(sitePath("/consents/" + encodeURIComponent(id)))).json();
      renderLookup(state.lastLookup);
    } catch (err) {
      state.lastLookup = null;
      out.append(el("p", t("error", { msg: err.message }), "error"));
    }
  }

  function fieldValue(name, value) {
    if (name === "choices") {
      return Object.entries(value).map(([k, v]) => k + ": " + (v ? t("yes") : t("no"))).join(", ");
    }
    if (name === "gpc") return value ? t("yes") : t("no");
    return value === null || value === undefined ? "" : String(value);
  }

  function renderLookup(proof) {
    const out = $("lookup-result");
    out.replaceChildren();
    const status = el("p", proof.verified ? t("verified_yes") : t("verified_no"), proof.verified ? "ok" : "bad");
    status.id = "lookup-status";
    out.append(status);
    for (const row of proof.rows) {
      const card = el("article", null, "row-card");
      card.dataset.seq = row.seq;
      card.append(el("h3", t("row", { seq: row.seq, action: row.action })));
      const list = el("dl", null, "proof");
      for (const name of PROOF_FIELDS) {
        list.append(el("dt", t("field_" + name)), el("dd", fieldValue(name, row[name]), name.endsWith("hash") || name === "event_id" ? "mono" : ""));
      }
      list.append(el("dt", t("proof")), el("dd", Object.entries(row.proof).map(([k, v]) => k + ": " + (v ? t("yes") : t("no"))).join(", ")));
      card.append(list);
      card.append(renderTexts(proof.texts[row.texts_hash]));
      out.append(card);
    }
  }

  function renderTexts(snapshot) {
    const box = el("details", null, "texts");
    box.append(el("summary", t("texts_shown")));
    if (!snapshot) {
      box.append(el("p", t("texts_missing")));
      return box;
    }
    const banner = snapshot.texts.texts || {};
    box.lang = snapshot.language;
    for (const [key, value] of Object.entries(banner)) {
      const line = el("p");
      line.append(el("strong", key + ": "), document.createTextNode(String(value)));
      box.append(line);
    }
    for (const category of snapshot.texts.categories || []) {
      const line = el("p");
      const texts = category.texts || {};
      line.append(el("strong", (texts.title || category.id) + ": "), document.createTextNode(texts.description || ""));
      box.append(line);
    }
    return box;
  }

  /* ---------- export ---------- */

  async function sha256Hex(blob) {
    if (!(window.crypto && crypto.subtle)) return null;
    const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function exportRows(event) {
    const format = event.currentTarget.dataset.format;
    const out = $("export-result");
    out.replaceChildren(el("p", t("exporting")));
    const query = periodQuery();
    query.set("format", format);
    try {
      const response = await api(sitePath("/consents?" + query));
      const upto = response.headers.get("Kakor-Upto-Seq");
      const disposition = response.headers.get("Content-Disposition") || "";
      const match = /filename="([^"]+)"/.exec(disposition);
      const file = match ? match[1] : "kakor-export." + format;
      const blob = await response.blob();
      const link = el("a");
      link.href = URL.createObjectURL(blob);
      link.download = file;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60000);
      query.set("upto_seq", upto);
      const manifest = await (await api(sitePath("/consents/manifest?" + query))).json();
      const summary = el("p", t("exported", { file: file, rows: manifest.rows, sha: manifest.sha256 }), "mono");
      summary.id = "export-summary";
      out.replaceChildren(summary);
      const local = await sha256Hex(blob);
      if (local) {
        out.append(el("p", local === manifest.sha256 ? t("sha_match") : t("sha_mismatch"), local === manifest.sha256 ? "ok" : "bad"));
      }
      const manifestLink = el("a", file + ".manifest.json");
      manifestLink.href = URL.createObjectURL(new Blob([JSON.stringify(manifest, null, 2) + "\n"], { type: "application/json" }));
      manifestLink.download = file + ".manifest.json";
      out.append(manifestLink);
    } catch (err) {
      out.replaceChildren(el("p", t("error", { msg: err.message }), "error"));
    }
  }

  /* ---------- integrity ---------- */

  async function verify() {
    const out = $("integrity-status");
    out.className = "";
    out.textContent = t("checking");
    try {
      const result = await (await api("/admin/v1/log/verify")).json();
      if (result.ok) {
        out.textContent = t("integrity_ok", { n: result.rows_checked });
        out.className = "ok";
      } else {
        const broken = result.first_broken;
        out.textContent = t("integrity_bad", { seq: broken.seq, site: broken.site_id, reason: broken.reason, n: result.rows_checked });
        out.className = "bad";
      }
    } catch (err) {
      out.textContent = t("error", { msg: err.message });
      out.className = "bad";
    }
  }

  function start() {
    const preferred = (navigator.language || "sv").slice(0, 2);
    state.lang = preferred === "en" ? "en" : "sv";
    applyTexts();
    $("lang").addEventListener("click", () => {
      state.lang = state.lang === "sv" ? "en" : "sv";
      applyTexts();
    });
    $("signin-form").addEventListener("submit", signIn);
    $("signout").addEventListener("click", signOut);
    $("site").addEventListener("change", () => loadStats());
    $("period").addEventListener("submit", loadStats);
    $("group").addEventListener("change", () => loadStats());
    $("chart-csv").addEventListener("click", chartCsv);
    $("lookup-form").addEventListener("submit", lookup);
    $("export-csv").addEventListener("click", exportRows);
    $("export-jsonl").addEventListener("click", exportRows);
    $("verify").addEventListener("click", verify);
  }

  start();
})();
