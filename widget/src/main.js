/**
 * The widget's entry point: wires state, gate, UI, Consent Mode and the
 * service together, and exposes `window.kakor`. The service replaces
 * `__KAKOR_CONFIG__` with the site's public config when it serves the file.
 * @module main
 */
import { readCookies, writeCookie, deleteCookies } from "./cookies.js";
import { parseToken } from "./token.js";
import { all, restore, withdrawn, optional, cookieNames } from "./state.js";
import { consentMode } from "./consentmode.js";
import { createGate } from "./gate.js";
import { createUI } from "./ui.js";
import { send } from "./api.js";
import { texts } from "./texts.js";

/* global __KAKOR_CONFIG__, __KAKOR_CSS__, __KAKOR_VERSION__ */

/**
 * The visitor's language choice, kept for the rest of the visit in a session
 * cookie (a setting they asked for, so no consent is needed; declared as
 * necessary). Not sessionStorage: its first read at start blocks the main
 * thread on the browser process, while `document.cookie` is read anyway.
 * @param {string=} l the language to keep; without it, the one kept
 * @returns {string|undefined}
 */
function keep(l) {
  if (l) document.cookie = "kakor_lang=" + l + "; Path=/; SameSite=Lax";
  return readCookies("kakor_lang")[0];
}

/**
 * Start the widget for one site.
 * @param {object} config the site's public config
 */
function boot(config) {
  consentMode(config, null);
  const cookieValue = () => readCookies(config.cookie_name).find((v) => parseToken(v));
  let consent = restore(config, parseToken(cookieValue() || ""), Date.now());
  const page = (document.documentElement.lang || "").slice(0, 2);
  let lang = [keep(), page].find((l) => config.languages.includes(l)) || config.default_language;
  const listeners = [];
  let full;

  /**
   * The served widget carries the default language's texts and no service
   * details; the rest (another language, the settings' services and cookies)
   * is fetched once, from the site's public config, when first needed.
   * @param {string} l the language about to be shown
   * @param {boolean=} settings whether the settings are about to be shown
   * @returns {Promise<void>}
   */
  const load = (l, settings) =>
    full || (config.texts[l] && !settings)
      ? Promise.resolve()
      : fetch(config.api + "config")
          .then((r) => r.json())
          .then((c) => void (full = Object.assign(config, c)));

  const snapshot = () => ({
    choices: { ...consent.choices },
    decided: consent.decided,
    consent_id: consent.id,
    given_at: consent.given ? new Date(consent.given * 1000).toISOString() : null,
    policy_version: config.policy_version,
  });

  function emit(action) {
    const detail = { ...snapshot(), action };
    for (const fn of listeners) fn(detail);
    document.dispatchEvent(new CustomEvent("kakor:change", { bubbles: true, detail }));
  }

  function stored(r) {
    if (!r?.token) return;
    writeCookie(config.cookie_name, r.token, config.consent_lifetime_days * 86400, config.cookie_domain);
    consent.id = r.consent_id;
    consent.given = Date.parse(r.given_at) / 1000;
  }

  /** Make `choices` the consent: gating, Consent Mode, the change event. */
  function apply(choices, action) {
    consent = { ...consent, choices, decided: true };
    gate.apply();
    consentMode(config, choices);
    emit(action);
  }

  /**
   * Apply what a decision refuses at once (gating, cookies, Consent Mode,
   * event), but what it newly allows only once the service has recorded it: a
   * site that refuses the page's origin (or an unreachable service) never runs
   * gated content unrecorded.
   * @param {Object<string, boolean>|boolean} value choices, or true/false for all
   * @param {string} action accept-all | reject-all | save | gpc
   */
  function decide(value, action) {
    const choices = typeof value == "boolean" ? all(config, value) : { ...all(config, false), ...value };
    for (const c of config.categories) if (c.required) choices[c.id] = true;
    const before = consent.choices;
    const gone = withdrawn(config, before, choices);
    const grants = withdrawn(config, choices, before).length;
    const wasAllowing = consent.decided && gone.length > 0;
    if (gone.length) deleteCookies(cookieNames(gone));
    if (grants) {
      const narrowed = {};
      for (const id in choices) narrowed[id] = choices[id] && before[id];
      consent = { ...consent, choices: narrowed };
      gate.apply();
    } else apply(choices, action);
    ui.close();
    // Cleared first, so that a second "saved" is a change a screen reader reads.
    ui.announce("");
    const token = cookieValue();
    const none = !optional(config).some((c) => choices[c.id]);
    const body = { language: lang, page: location.href, widget_version: __KAKOR_VERSION__, token };
    (wasAllowing && none
      ? send("DELETE", config.api + "consent", body, token)
      : send("POST", config.api + "consent", { ...body, choices, action, policy_version: config.policy_version })
    ).then((r) => {
      if (!r) return;
      stored(r);
      if (grants) apply(choices, action);
      if (action != "gpc") ui.announce(texts(config, lang).saved);
    });
  }

  const ui = createUI({
    config,
    css: __KAKOR_CSS__,
    consent: () => consent,
    lang: () => lang,
    setLang(l) {
      return load(l).then(() => {
        keep((lang = l));
        ui.rerender();
        gate.apply();
      });
    },
    decide,
    load: (settings) => load(lang, settings),
    receipt: () => send("GET", config.api + "receipt", null, cookieValue()),
    allow(ids) {
      const choices = { ...consent.choices };
      for (const id of ids) choices[id] = true;
      decide(choices, "placeholder");
    },
    once: (f) => ((f.kakorOnce = true), gate.apply()),
  });
  const gate = createGate({ choices: () => consent.choices, placeholder: ui.placeholder });

  window.kakor = {
    /**
     * Open the banner, or the settings with `show("settings")`.
     * @param {string=} layer
     */
    show: (layer) => ui.open(layer),
    /** @returns {object} the current consent: choices, decided, consent_id, given_at */
    get: snapshot,
    /**
     * Call `fn(detail)` after every decision.
     * @param {string} event only "change"
     * @param {function(object): void} fn
     */
    on(event, fn) {
      if (event == "change") listeners.push(fn);
    },
  };

  if (consent.decided) {
    consentMode(config, consent.choices);
    emit("restore");
  }

  function ready() {
    load(lang)
      .catch(() => (lang = config.default_language))
      .then(start);
  }

  function start() {
    gate.start();
    document.addEventListener("click", (e) => {
      const el = e.target.closest?.("[data-consent-open]");
      if (el) {
        e.preventDefault();
        ui.open(el.getAttribute("data-consent-open") == "settings" ? "settings" : "first");
      }
    });
    if (location.hash == "#kakor-settings") ui.open("settings");
    else if (consent.decided) ui.close();
    else if (navigator.globalPrivacyControl === true) decide(false, "gpc");
    else ui.open();
  }

  if (document.readyState == "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
}

if (!window.kakor) boot(__KAKOR_CONFIG__);
