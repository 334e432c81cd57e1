/**
 * Reading, writing and deleting first-party cookies. No DOM beyond
 * `document.cookie`, no state.
 * @module cookies
 */

/**
 * Every value stored under `name`, in the order the browser lists them
 * (a cookie can exist once per path and domain).
 * @param {string} name
 * @returns {string[]}
 */
export function readCookies(name) {
  const out = [];
  for (const part of document.cookie.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) out.push(part.slice(i + 1).trim());
  }
  return out;
}

/**
 * Store the consent token first-party, so it works when the service runs on
 * another host than the page.
 * @param {string} name
 * @param {string} value
 * @param {number} maxAge seconds
 * @param {?string} domain
 */
export function writeCookie(name, value, maxAge, domain) {
  document.cookie =
    name + "=" + value + "; Path=/; Max-Age=" + maxAge + "; SameSite=Lax" +
    (location.protocol == "https:" ? "; Secure" : "") +
    (domain ? "; Domain=" + domain : "");
}

/**
 * Delete every cookie whose name matches one of `patterns` (an exact name, or
 * a prefix ending in `*`), on this host and on each parent domain, at `/`
 * and at the current path: a tracker may have set it on any of them.
 * @param {string[]} patterns
 */
export function deleteCookies(patterns) {
  const names = new Set();
  for (const part of document.cookie.split(";")) {
    const name = part.split("=")[0].trim();
    for (const p of patterns) {
      if (p.endsWith("*") ? name.startsWith(p.slice(0, -1)) : name == p) names.add(name);
    }
  }
  const labels = location.hostname.split(".");
  const domains = [""];
  for (let i = 0; i < labels.length - 1; i++) domains.push("; Domain=." + labels.slice(i).join("."));
  for (const name of names) {
    for (const d of domains) {
      for (const path of ["/", location.pathname]) {
        document.cookie = name + "=; Path=" + path + "; Max-Age=0" + d;
      }
    }
  }
}
