/**
 * Talking to the consent service. POSTs go as `text/plain` JSON so a
 * cross-origin service needs no CORS preflight; the response's token is
 * then stored first-party by main.
 * @module api
 */

/**
 * Record a decision (POST, a "simple" request: no preflight) or a withdrawal
 * (DELETE, with the token also in a `Kakor-Token` header for a service on
 * another host).
 * @param {string} method "POST" or "DELETE"
 * @param {string} url the consent endpoint
 * @param {object} body
 * @returns {Promise<?object>} the service's answer, or null when it failed
 */
export function send(method, url, body) {
  const headers = { "Content-Type": "text/plain;charset=UTF-8" };
  if (method == "DELETE" && body.token) headers["Kakor-Token"] = body.token;
  return fetch(url, { method, headers, body: JSON.stringify(body), credentials: "include" })
    .then((r) => (r.ok ? r.json() : null))
    .catch(() => null);
}
