/**
 * Talking to the consent service. POSTs go as `text/plain` JSON so a
 * cross-origin service needs no CORS preflight; the response's token is
 * then stored first-party by main.
 * @module api
 */

/**
 * Record a decision.
 * @param {string} url the consent endpoint
 * @param {object} body
 * @returns {Promise<?object>} the service's answer, or null when it failed
 */
export function record(url, body) {
  return send(url, { method: "POST", headers: { "Content-Type": "text/plain;charset=UTF-8" }, body: JSON.stringify(body) });
}

/**
 * Withdraw every optional category.
 * @param {string} url the consent endpoint
 * @param {?string} token the current cookie value
 * @returns {Promise<?object>}
 */
export function withdraw(url, token) {
  return send(url, { method: "DELETE", headers: token ? { "Kakor-Token": token } : {} });
}

function send(url, init) {
  init.credentials = "include";
  return fetch(url, init)
    .then((r) => (r.ok ? r.json() : null))
    .catch(() => null);
}
