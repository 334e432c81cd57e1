/**
 * Talking to the consent service. POSTs go as `text/plain` JSON so a
 * cross-origin service needs no CORS preflight; the response's token is
 * then stored first-party by main.
 * @module api
 */

/**
 * Record a decision (POST, a "simple" request: no preflight), withdraw it
 * (DELETE) or fetch its receipt (GET, no body). The last two pass `token`,
 * sent in a `Kakor-Token` header for a service on another host.
 * @param {string} method "POST", "DELETE" or "GET"
 * @param {string} url the consent or receipt endpoint
 * @param {?object} body
 * @param {string=} token the consent cookie's value
 * @returns {Promise<?object>} the service's answer, or undefined when it failed: then
 *   the reason (the service's own message, e.g. an origin the site does not list) goes
 *   to `console.error`, since a misconfigured site must not fail silently
 */
export function send(method, url, body, token) {
  // A string body goes as `text/plain;charset=UTF-8` without being told to.
  const headers = token ? { "Kakor-Token": token } : {};
  return fetch(url, { method, headers, body: body && JSON.stringify(body), credentials: "include" })
    .then((r) => r.json().then((j) => (r.ok ? j : Promise.reject(j.error.message))))
    .catch((e) => void console.error("kakor: " + (e.message || e)));
}
