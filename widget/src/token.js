/**
 * Reading the consent token the service signs. The widget cannot verify the
 * signature (only the server holds the key); it trusts the payload only to
 * gate scripts and to decide whether to ask again, so a repeat visit never
 * waits for the network. Pure: no DOM, no I/O.
 * @module token
 */

/** @param {string} s base64url without padding */
function b64(s) {
  return atob(s.replace(/-/g, "+").replace(/_/g, "/"));
}

/**
 * Parse `<payload>.<timestamp>.<signature>` where payload is base64url of
 * `{"i": consent_id, "v": policy_version, "c": bits}` and timestamp the
 * big-endian seconds of `given_at`.
 * @param {string} value
 * @returns {?{id: string, version: string, bits: number, given: number}}
 *   null when it does not parse
 */
export function parseToken(value) {
  try {
    const [payload, stamp, sig] = value.split(".");
    if (!sig) return null;
    const p = JSON.parse(b64(payload));
    let given = 0;
    for (const ch of b64(stamp)) given = given * 256 + ch.charCodeAt(0);
    if (typeof p.i != "string" || typeof p.v != "string" || typeof p.c != "number") return null;
    return { id: p.i, version: p.v, bits: p.c, given };
  } catch (e) {
    return null;
  }
}
