/**
 * Verify kakor's consent cookie on a server: Node 20+, Deno, Bun, Cloudflare
 * Workers and other edge runtimes. Plain ES module, no dependencies: only Web
 * Crypto (`crypto.subtle`). It verifies exactly what the service and the
 * Python reader (`consent_service.client`) verify: the HMAC-SHA-256
 * signature under any of the site's keys, the per-site salt, the age, the
 * policy version and the categories (docs/integrations.md has the format).
 * @module kakor-token
 */

const SALT = "kakor.consent.v1";
/** Seconds a token may be stamped ahead of this clock (replicas drift a little). */
const MAX_CLOCK_SKEW = 300;
const MAX_TOKEN = 512;
const enc = new TextEncoder();

/** @param {string} s base64url without padding @returns {?Uint8Array} */
function b64(s) {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 == 1) return null;
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "==".slice(0, (4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/**
 * itsdangerous's "django-concat" key derivation: SHA-256(salt + "signer" + key),
 * then an HMAC-SHA-256 key for verifying.
 * @param {string} salt @param {string} secret @returns {Promise<CryptoKey>}
 */
async function hmacKey(salt, secret) {
  const derived = await crypto.subtle.digest("SHA-256", enc.encode(salt + "signer" + secret));
  return crypto.subtle.importKey("raw", derived, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
}

/**
 * A reader for one site.
 * @param {object} config the site's public config (`GET /v1/sites/{site}/config`)
 * @param {string[]} keys the service's secret keys, newest first
 * @param {{now?: function(): number}=} options `now()` in seconds (tests fix it)
 * @returns {{cookieName: string, read: function(?string): Promise<?Consent>}}
 */
export function createReader(config, keys, options = {}) {
  if (!keys.length) throw new Error("at least one secret key is needed");
  const now = options.now || (() => Date.now() / 1000);
  const hmacKeys = Promise.all(keys.map((k) => hmacKey(`${SALT}:${config.site}`, k)));
  const owner = {};
  for (const c of config.categories) for (const s of c.services || []) owner[s.id] = c.id;
  return {
    cookieName: config.cookie_name,
    /**
     * The verified consent in a cookie value, or null (absent, forged,
     * expired, another site's, an older policy version's).
     */
    async read(value) {
      if (typeof value != "string" || !value || value.length > MAX_TOKEN) return null;
      const parts = value.split(".");
      if (parts.length != 3) return null;
      const [payload, stamp, signature] = parts;
      const sig = b64(signature);
      const stampBytes = b64(stamp);
      if (!sig || !stampBytes || !stampBytes.length) return null;
      const signed = enc.encode(`${payload}.${stamp}`);
      let valid = false;
      for (const key of await hmacKeys) {
        if (await crypto.subtle.verify("HMAC", key, sig, signed)) valid = true;
      }
      if (!valid) return null;
      const given = stampBytes.reduce((n, b) => n * 256 + b, 0);
      const age = now() - given;
      if (age > config.consent_lifetime_days * 86400 || age < -MAX_CLOCK_SKEW) return null;
      let p;
      try {
        p = JSON.parse(new TextDecoder().decode(b64(payload) || new Uint8Array()));
      } catch (e) {
        return null;
      }
      if (!p || typeof p.i != "string" || typeof p.v != "string" || !Number.isInteger(p.c)) return null;
      if (p.v != config.policy_version) return null;
      const choices = {};
      let bit = 0;
      for (const c of config.categories) {
        choices[c.id] = c.required ? true : Math.floor(p.c / 2 ** bit++) % 2 == 1;
      }
      if (p.c < 0 || p.c >= 2 ** bit) return null;
      return new Consent(p.i, p.v, given, given + config.consent_lifetime_days * 86400, choices, owner);
    },
  };
}

/** A visitor's verified consent: every category explicit. */
export class Consent {
  constructor(consentId, policyVersion, givenAt, expiresAt, choices, owners) {
    /** @type {string} */ this.consentId = consentId;
    /** @type {string} */ this.policyVersion = policyVersion;
    /** @type {number} seconds since the epoch */ this.givenAt = givenAt;
    /** @type {number} seconds since the epoch */ this.expiresAt = expiresAt;
    /** @type {Object<string, boolean>} */ this.choices = choices;
    Object.defineProperty(this, "owners", { value: owners });
  }

  /** @param {string} category @returns {boolean} */
  allows(category) {
    return this.choices[category] === true;
  }

  /**
   * Category-level until visitors can choose per service: a service is
   * allowed when its category is.
   * @param {string} service @returns {boolean}
   */
  allowsService(service) {
    const category = this.owners[service];
    return category !== undefined && this.allows(category);
  }
}

/**
 * The named cookie's value in a `Cookie` request header, or null.
 * @param {?string} header @param {string} name @returns {?string}
 */
export function cookieValue(header, name) {
  for (const part of (header || "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() == name) return part.slice(at + 1).trim();
  }
  return null;
}
