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
 * Start the widget for one site.
 * @param {object} config the site's public config
 */
function boot(config) {
  consentMode(config, null);
  const cookieValue = () => readCookies(config.cookie_name).find((v) => parseToken(v));
  let consent = restore(config, parseToken(cookieValue() || ""), Date.now());
  const page = (document.documentElement.lang || "").slice(0, 2);
  let lang = config.languages.includes(page) ? page : config.default_language;
  const listeners = [];

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

  /**
   * Apply a decision at once (gating, cookies, Consent Mode, event), then
   * record it with the service.
   * @param {Object<string, boolean>|boolean} value choices, or true/false for all
   * @param {string} action accept-all | reject-all | save | gpc
   */
  function decide(value, action) {
    const choices = typeof value == "boolean" ? all(config, value) : { ...all(config, false), ...value };
    for (const c of config.categories) if (c.required) choices[c.id] = true;
    const gone = withdrawn(config, consent.choices, choices);
    const wasAllowing = consent.decided && gone.length > 0;
    consent = { ...consent, choices, decided: true };
    if (gone.length) deleteCookies(cookieNames(gone));
    gate.apply();
    consentMode(config, choices);
    ui.close();
    if (action != "gpc") ui.announce(texts(config, lang).saved);
    emit(action);
    const token = cookieValue();
    const none = !optional(config).some((c) => choices[c.id]);
    const body = { language: lang, page: location.href, widget_version: __KAKOR_VERSION__, token };
    (wasAllowing && none
      ? send("DELETE", config.endpoints.consent, body, token)
      : send("POST", config.endpoints.consent, { ...body, choices, action, policy_version: config.policy_version })
    ).then(stored);
  }

  const ui = createUI({
    config,
    css: __KAKOR_CSS__,
    consent: () => consent,
    lang: () => lang,
    setLang(l) {
      lang = l;
      ui.rerender();
      gate.apply();
    },
    decide,
    receipt: () => send("GET", config.endpoints.receipt, null, cookieValue()),
    allow(ids) {
      const choices = { ...consent.choices };
      for (const id of ids) choices[id] = true;
      decide(choices, "save");
    },
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
    gate.start();
    document.addEventListener("click", (e) => {
      const el = e.target.closest?.("[data-consent-open]");
      if (el) {
        e.preventDefault();
        ui.open(el.getAttribute("data-consent-open") == "settings" ? "settings" : "first");
      }
    });
    if (consent.decided) return;
    if (navigator.globalPrivacyControl === true) decide(false, "gpc");
    else ui.open();
  }

  if (document.readyState == "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
}

if (!window.kakor) boot(__KAKOR_CONFIG__);
