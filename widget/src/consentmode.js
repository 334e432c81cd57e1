/**
 * Google Consent Mode v2: every signal denied by default before any tag can
 * run, then exactly one `update` per decision.
 * @module consentmode
 */

const SIGNALS = ["analytics_storage", "ad_storage", "ad_user_data", "ad_personalization"];

/** gtag() pushes its `arguments` object, as Google's own snippet does. */
function gtag() {
  // eslint-disable-next-line prefer-rest-params
  window.dataLayer.push(arguments);
}

/**
 * Push `gtag("consent", "default", all denied)` when `choices` is null,
 * else one `update` from the choices (signals the site maps to no category
 * stay denied). Does nothing for a site that maps no signal, and pushes no
 * second default after the inline snippet's.
 * @param {object} config
 * @param {?Object<string, boolean>} choices
 */
export function consentMode(config, choices) {
  const map = config.google_consent_mode || {};
  if (!Object.keys(map).length) return;
  const dl = (window.dataLayer = window.dataLayer || []);
  // The site's inline snippet (docs/widget.md) already set the default before any tag.
  if (!choices && dl.some((a) => a[0] == "consent")) return;
  const signals = {};
  for (const s of SIGNALS) signals[s] = choices && choices[map[s]] ? "granted" : "denied";
  gtag("consent", choices ? "update" : "default", signals);
}
