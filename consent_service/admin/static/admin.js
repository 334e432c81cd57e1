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
      chart_caption: "{n} beslut under {d}. Andelar av dagens beslut.",
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
      checking_rows: "Kontrollerar … {n} av {total} rader.",
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
      "action_accept-all": "Godkänn alla",
      "action_reject-all": "Neka alla",
      action_save: "Spara val",
      action_placeholder: "Tillåt alltid (inbäddning)",
      action_gpc: "GPC-signal",
      action_withdraw: "Återkallat",
      action_checkpoint: "Rensning (kontrollpunkt)",
      action_placeholder: "Tillåtet från platshållare",
      days_one: "{n} dag",
      days_other: "{n} dagar",
      period_hint: "Perioden gäller diagrammet och exporten. Tomma fält betyder all tid.",
      summary_now: "Samtycke nu: {choices}. Sedan {date} ({action}), giltigt till {until}.",
      summary_withdrawn: "Återkallat {date}: inget valfritt tillåts sedan dess.",
      summary_history: "{n} för detta samtyckes-ID.",
      events_one: "{n} händelse",
      events_other: "{n} händelser",
      print_proof: "Skriv ut beviset",
      access_title: "Åtkomstlogg",
      access_help: "Vem som exporterat, slagit upp eller kontrollerat den här webbplatsens uppgifter, och när. Nyast först.",
      access_show: "Visa åtkomstloggen",
      access_empty: "Ingen åtkomst loggad än.",
      access_at: "Tid (UTC)",
      access_who: "Token",
      access_action: "Åtgärd",
      access_what: "Vad",
      access_export: "Export",
      access_lookup: "Uppslag",
      access_verify: "Kontroll av kedjan",
      access_stats: "Statistik",
      access_manifest: "Manifest",
      rows_one: "{n} rad",
      rows_other: "{n} rader",
      access_rows: "{rows} rader, SHA-256 {sha}",
      access_incomplete: "avbruten",
      access_outcome_ok: "intakt",
      access_outcome_broken: "bruten",
      scans_title: "Genomsökningar av webbplatsen",
      scans_help: "Vad webbplatsen satte före samtycke, efter Neka alla och efter Godkänn alla, sida för sida. Varje rapport är signerad och finns i loggen.",
      scans_show: "Visa senaste genomsökningen",
      scans_none: "Ingen genomsökning sparad än (se [sites.<id>.scan] eller consent-service scan-record).",
      scans_latest: "Senast {date}: {url}, {pages}, {result}.",
      scans_clean: "inget sattes före samtycke eller efter nej",
      problems_one: "{n} problem",
      problems_other: "{n} problem",
      scans_changes: "Ändrat sedan förra genomsökningen",
      scans_first: "Den första genomsökningen: inget att jämföra med.",
      scans_same: "Inget har ändrats sedan förra genomsökningen.",
      scans_new_cookie: "Ny kaka {phase}: {names}",
      scans_gone_cookie: "Borta {phase}: {names}",
      scans_new_finding: "Nytt problem: {subject} ({phase}, {page})",
      scans_resolved: "Åtgärdat: {subject} ({phase}, {page})",
      scans_download: "Ladda ner rapporten (JSON, signerad)",
      pages_one: "{n} sida",
      pages_other: "{n} sidor",
      phase_before: "före val",
      phase_reject: "efter Neka alla",
      phase_accept: "efter Godkänn alla",
      // The chart and its controls (stacked decisions per action, grouping, CSV, breakdowns).
      group: "Gruppera",
      group_day: "Dag",
      group_week: "Vecka",
      group_month: "Månad",
      chart_csv: "Diagrammets data (CSV)",
      act_accept_all: "Godkänner allt",
      act_reject_all: "Nekar allt",
      act_save: "Eget val",
      act_placeholder: "Från inbäddning",
      act_gpc: "GPC-signal",
      period_start: "Period från",
      stacked_caption: "{n} beslut under {p}, staplade per val.",
      weeks_one: "{n} vecka",
      weeks_other: "{n} veckor",
      months_one: "{n} månad",
      months_other: "{n} månader",
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
      chart_caption: "{n} decisions over {d}. Shares of each day's decisions.",
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
      checking_rows: "Checking … {n} of {total} rows.",
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
      "action_accept-all": "Accept all",
      "action_reject-all": "Reject all",
      action_save: "Save choices",
      action_placeholder: "Always allow (embed)",
      action_gpc: "GPC signal",
      action_withdraw: "Withdrawn",
      action_checkpoint: "Purge (checkpoint)",
      action_placeholder: "Allowed from a placeholder",
      days_one: "{n} day",
      days_other: "{n} days",
      period_hint: "The period applies to the chart and the export. Empty fields mean all time.",
      summary_now: "Consent now: {choices}. Since {date} ({action}), valid until {until}.",
      summary_withdrawn: "Withdrawn on {date}: nothing optional is allowed since.",
      summary_history: "{n} for this consent ID.",
      events_one: "{n} event",
      events_other: "{n} events",
      print_proof: "Print the proof",
      access_title: "Access log",
      access_help: "Who exported, looked up or checked this site's records, and when. Newest first.",
      access_show: "Show the access log",
      access_empty: "No access logged yet.",
      access_at: "Time (UTC)",
      access_who: "Token",
      access_action: "Action",
      access_what: "What",
      access_export: "Export",
      access_lookup: "Lookup",
      access_verify: "Chain check",
      access_stats: "Statistics",
      access_manifest: "Manifest",
      rows_one: "{n} row",
      rows_other: "{n} rows",
      access_rows: "{rows} rows, SHA-256 {sha}",
      access_incomplete: "interrupted",
      access_outcome_ok: "intact",
      access_outcome_broken: "broken",
      scans_title: "Scans of the site",
      scans_help: "What the site set before consent, after Reject all and after Accept all, page by page. Each report is signed and in the log.",
      scans_show: "Show the latest scan",
      scans_none: "No scan stored yet (see [sites.<id>.scan] or consent-service scan-record).",
      scans_latest: "Latest on {date}: {url}, {pages}, {result}.",
      scans_clean: "nothing set before consent or after refusal",
      problems_one: "{n} problem",
      problems_other: "{n} problems",
      scans_changes: "Changed since the previous scan",
      scans_first: "The first scan: nothing to compare with.",
      scans_same: "Nothing changed since the previous scan.",
      scans_new_cookie: "New cookie {phase}: {names}",
      scans_gone_cookie: "Gone {phase}: {names}",
      scans_new_finding: "New problem: {subject} ({phase}, {page})",
      scans_resolved: "Resolved: {subject} ({phase}, {page})",
      scans_download: "Download the report (JSON, signed)",
      pages_one: "{n} page",
      pages_other: "{n} pages",
      phase_before: "before a choice",
      phase_reject: "after Reject all",
      phase_accept: "after Accept all",
      // The chart and its controls (stacked decisions per action, grouping, CSV, breakdowns).
      group: "Group by",
      group_day: "Day",
      group_week: "Week",
      group_month: "Month",
      chart_csv: "Chart data (CSV)",
      act_accept_all: "Accept all",
      act_reject_all: "Reject all",
      act_save: "Custom choice",
      act_placeholder: "From an embed",
      act_gpc: "GPC signal",
      period_start: "Period from",
      stacked_caption: "{n} decisions over {p}, stacked by choice.",
      weeks_one: "{n} week",
      weeks_other: "{n} weeks",
      months_one: "{n} month",
      months_other: "{n} months",
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

  const state = { lang: "sv", token: null, me: null, stats: null, lastLookup: null, access: null, scans: null };
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

  /** "1 dag" / "3 dagar": ``{key}_one`` or ``{key}_other`` by the language's plural rules. */
  function countOf(key, n) {
    const form = new Intl.PluralRules(state.lang).select(n) === "one" ? "one" : "other";
    return t(key + "_" + form, { n: n });
  }

  /** The signed-in token's entry for the chosen site (from /admin/v1/me). */
  function currentSite() {
    return ((state.me && state.me.sites) || []).find((s) => s.id === $("site").value) || {};
  }

  /** A category's title in the page's language; its id only if the site has no title. */
  function categoryTitle(id) {
    const category = (currentSite().categories || []).find((c) => c.id === id);
    const titles = (category && category.title) || {};
    return titles[state.lang] || titles.en || Object.values(titles)[0] || id;
  }

  /** An audit row's action in words ("Spara val", not "save"). */
  function actionName(action) {
    const key = "action_" + action;
    const text = t(key);
    return text === key ? action : text;
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
    if (state.access) renderAccess(state.access);
    if (state.scans) renderScans(state.scans);
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
    // Sign-in replaced the form the focus was in: continue at the first control of the app.
    select.focus();
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
    state.access = null;
    state.scans = null;
    $("access-result").replaceChildren();
    $("scans-result").replaceChildren();
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
      label: t("allowed", { cat: categoryTitle(cat) }),
      value: (day) => day.allowed[cat] || 0,
    }));
    series.push({ key: "refused", label: t("refused"), value: (day) => day.refused_share });
    series.push({ key: "gpc", label: t("gpc"), value: (day) => day.gpc_share });
    return series;
  }

  /** The chart's series: decisions per action, stacked, so equal counts never hide each other. */
  const ACTIONS = ["accept-all", "reject-all", "save", "placeholder", "gpc"];

  function renderStats(stats) {
    const points = stats.series || stats.days;
    const series = seriesOf(stats);
    renderChart(points);
    $("chart-caption").textContent = points.length
      ? t("stacked_caption", {
        n: stats.totals.decisions,
        p: countOf({ week: "weeks", month: "months" }[stats.group] || "days", points.length),
      })
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
      return choicesText(value);
    }
    if (name === "gpc") return value ? t("yes") : t("no");
    return value === null || value === undefined ? "" : String(value);
  }

  function choicesText(choices) {
    return Object.entries(choices || {})
      .map(([k, v]) => categoryTitle(k) + " " + (v ? t("yes") : t("no")))
      .join(", ");
  }

  function addDays(isoDate, days) {
    const date = new Date(isoDate);
    date.setUTCDate(date.getUTCDate() + days);
    return date.toISOString().slice(0, 10);
  }

  /** What holds now, in plain words, from the newest row of the consent's history. */
  function lookupSummary(proof) {
    const rows = proof.rows.filter((r) => r.action !== "checkpoint");
    const box = el("div", null, "summary");
    box.id = "lookup-summary";
    const last = rows[rows.length - 1];
    if (!last) return box;
    const date = String(last.created_at).slice(0, 10);
    if (last.action === "withdraw") {
      box.append(el("p", t("summary_withdrawn", { date: date }), "now"));
    } else {
      const optional = {};
      for (const [k, v] of Object.entries(last.choices || {})) {
        const category = (currentSite().categories || []).find((c) => c.id === k);
        if (!category || !category.required) optional[k] = v;
      }
      const days = currentSite().consent_lifetime_days || 365;
      box.append(el("p", t("summary_now", {
        choices: choicesText(optional), date: date, action: actionName(last.action), until: addDays(last.created_at, days),
      }), "now"));
    }
    box.append(el("p", t("summary_history", { n: countOf("events", rows.length) }), "muted"));
    const print = el("button", t("print_proof"));
    print.type = "button";
    print.id = "print-proof";
    print.addEventListener("click", () => window.print());
    box.append(print);
    return box;
  }

  function renderLookup(proof) {
    const out = $("lookup-result");
    out.replaceChildren(lookupSummary(proof));
    const status = el("p", proof.verified ? t("verified_yes") : t("verified_no"), proof.verified ? "ok" : "bad");
    status.id = "lookup-status";
    out.append(status);
    for (const row of proof.rows) {
      const card = el("article", null, "row-card");
      card.dataset.seq = row.seq;
      card.append(el("h3", t("row", { seq: row.seq, action: actionName(row.action) })));
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

  /* ---------- access log ---------- */

  async function loadAccess() {
    const out = $("access-result");
    try {
      state.access = await (await api(sitePath("/access-log?limit=200"))).json();
      renderAccess(state.access);
    } catch (err) {
      state.access = null;
      out.replaceChildren(el("p", t("error", { msg: err.message }), "error"));
    }
  }

  function accessWhat(entry) {
    const d = entry.detail || {};
    if (entry.action === "lookup") return d.consent_id || "";
    if (entry.action === "stats") return (d.since || "…") + " – " + (d.until || "…");
    if (d.complete === false) return t("access_incomplete");
    if (entry.action === "verify") {
      return t(d.ok ? "access_outcome_ok" : "access_outcome_broken") + ", " + countOf("rows", d.rows || 0);
    }
    if (d.sha256 !== undefined) return t("access_rows", { rows: d.rows, sha: d.sha256 });
    return "";
  }

  function renderAccess(log) {
    const out = $("access-result");
    if (!log.entries.length) {
      out.replaceChildren(el("p", t("access_empty")));
      return;
    }
    const table = el("table", null, "data");
    table.id = "access-table";
    table.append(el("caption", t("access_title"), "visually-hidden"));
    const head = el("tr");
    for (const key of ["access_at", "access_who", "access_action", "access_what"]) {
      const th = el("th", t(key));
      th.scope = "col";
      head.append(th);
    }
    table.append(el("thead"));
    table.tHead.append(head);
    const body = el("tbody");
    for (const entry of log.entries) {
      const row = el("tr");
      row.dataset.action = entry.action;
      const key = "access_" + entry.action;
      const name = t(key) === key ? entry.action : t(key);
      row.append(el("td", entry.at), el("td", entry.token_id + " (" + t("role_" + entry.role) + ")"), el("td", name), el("td", accessWhat(entry), "mono"));
      body.append(row);
    }
    table.append(body);
    const scroll = el("div", null, "scroll");
    scroll.append(table);
    out.replaceChildren(scroll);
  }

  /* ---------- scans ---------- */

  async function loadScans() {
    const out = $("scans-result");
    try {
      state.scans = await (await api(sitePath("/scans?limit=2"))).json();
      renderScans(state.scans);
    } catch (err) {
      state.scans = null;
      out.replaceChildren(el("p", t("error", { msg: err.message }), "error"));
    }
  }

  function renderScans(listed) {
    const out = $("scans-result");
    const latest = listed.scans[0];
    if (!latest) {
      out.replaceChildren(el("p", t("scans_none")));
      return;
    }
    const s = latest.summary;
    const result = s.clean ? t("scans_clean") : countOf("problems", s.findings);
    const head = el("p", t("scans_latest", {
      date: String(latest.created_at).slice(0, 10), url: s.url, pages: countOf("pages", s.pages), result: result,
    }), s.clean ? "ok" : "bad");
    head.id = "scans-latest";
    const changes = listed.changes_since_previous || {};
    const list = el("ul");
    list.id = "scans-changes";
    const phase = (p) => t("phase_" + p);
    for (const [p, names] of Object.entries(changes.new_cookies || {})) list.append(el("li", t("scans_new_cookie", { phase: phase(p), names: names.join(", ") })));
    for (const [p, names] of Object.entries(changes.gone_cookies || {})) list.append(el("li", t("scans_gone_cookie", { phase: phase(p), names: names.join(", ") })));
    for (const f of changes.new_findings || []) list.append(el("li", t("scans_new_finding", { subject: f.subject, phase: phase(f.phase), page: f.page })));
    for (const f of changes.resolved_findings || []) list.append(el("li", t("scans_resolved", { subject: f.subject, phase: phase(f.phase), page: f.page })));
    const title = el("h3", t("scans_changes"));
    const note = !changes.previous ? t("scans_first") : list.childElementCount ? null : t("scans_same");
    const download = el("button", t("scans_download"));
    download.type = "button";
    download.id = "scans-download";
    download.addEventListener("click", () => downloadScan(latest.id));
    out.replaceChildren(head, title, note ? el("p", note) : list, download);
  }

  async function downloadScan(id) {
    try {
      const body = await (await api(sitePath("/scans/" + encodeURIComponent(id)))).blob();
      const link = el("a");
      link.href = URL.createObjectURL(body);
      link.download = "kakor-scan-" + $("site").value + "-" + id + ".json";
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    } catch (err) {
      $("scans-result").append(el("p", t("error", { msg: err.message }), "error"));
    }
  }

  /* ---------- integrity ---------- */

  /**
   * Check the chains as a background job (POST …/verify-jobs), showing its progress,
   * then its result: no request stays open while a large log is walked.
   */
  async function verify() {
    const out = $("integrity-status");
    out.className = "";
    out.textContent = t("checking");
    try {
      let job = await (await api("/admin/v1/log/verify-jobs", { method: "POST" })).json();
      while (job.state === "queued" || job.state === "running") {
        await new Promise((done) => setTimeout(done, 500));
        job = await (await api("/admin/v1/log/verify-jobs/" + encodeURIComponent(job.id))).json();
        if (job.rows_total) {
          out.textContent = t("checking_rows", { n: job.rows_checked, total: job.rows_total });
        }
      }
      const result = await (await api(job.result)).json();
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
    $("site").addEventListener("change", () => {
      state.lastLookup = null;
      state.access = null;
      state.scans = null;
      $("lookup-result").replaceChildren();
      $("access-result").replaceChildren();
      $("scans-result").replaceChildren();
      loadStats();
    });
    $("period").addEventListener("submit", loadStats);
    $("group").addEventListener("change", () => loadStats());
    $("chart-csv").addEventListener("click", chartCsv);
    $("lookup-form").addEventListener("submit", lookup);
    $("export-csv").addEventListener("click", exportRows);
    $("export-jsonl").addEventListener("click", exportRows);
    $("verify").addEventListener("click", verify);
    $("access-show").addEventListener("click", loadAccess);
    $("scans-show").addEventListener("click", loadScans);
  }

  start();
})();
