/**
 * The visitor's consent as plain data, and the rules over it. No DOM, no I/O:
 * every function takes the site config and returns new values.
 * @module state
 */

/**
 * @typedef {Object<string, boolean>} Choices every category id → allowed
 * @typedef {{choices: Choices, decided: boolean, id: ?string, given: ?number}} Consent
 *   `given` is seconds since the epoch
 */

/**
 * The categories a visitor can choose, in config order (the token's bit order).
 * @param {object} config
 * @returns {object[]}
 */
export function optional(config) {
  return config.categories.filter((c) => !c.required);
}

/**
 * Choices with every optional category set to `value` (necessary always true).
 * @param {object} config
 * @param {boolean} value
 * @returns {Choices}
 */
export function all(config, value) {
  const out = {};
  for (const c of config.categories) out[c.id] = c.required || value;
  return out;
}

/**
 * The consent stored in the cookie, or "undecided" when there is none that
 * is readable, for this policy version and not expired.
 * @param {object} config
 * @param {?{id: string, version: string, bits: number, given: number}} token
 * @param {number} now milliseconds since the epoch
 * @returns {Consent}
 */
export function restore(config, token, now) {
  const choices = all(config, false);
  if (
    !token ||
    token.version !== config.policy_version ||
    (token.given + config.consent_lifetime_days * 86400) * 1000 < now
  ) {
    return { choices, decided: false, id: null, given: null };
  }
  optional(config).forEach((c, k) => (choices[c.id] = !!(token.bits & (1 << k))));
  return { choices, decided: true, id: token.id, given: token.given };
}

/**
 * The optional categories that were allowed in `before` and are not in `after`.
 * @param {object} config
 * @param {Choices} before
 * @param {Choices} after
 * @returns {object[]}
 */
export function withdrawn(config, before, after) {
  return optional(config).filter((c) => before[c.id] && !after[c.id]);
}

/**
 * Whether every category named in a `data-consent` value is allowed.
 * @param {Choices} choices
 * @param {string} names space-separated category ids
 * @returns {boolean}
 */
export function allows(choices, names) {
  return names.trim().split(/\s+/).every((n) => choices[n] === true);
}

/**
 * The declared cookie names (patterns) of some categories.
 * @param {object[]} categories
 * @returns {string[]}
 */
export function cookieNames(categories) {
  return categories.flatMap((c) => c.services.flatMap((s) => s.cookies.map((k) => k.name)));
}
