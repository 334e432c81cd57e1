// Unit tests of the widget's pure modules (no DOM): node --test test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseToken } from "../src/token.js";
import { all, allows, cookieNames, optional, restore, withdrawn } from "../src/state.js";
import { consentMode } from "../src/consentmode.js";

const b64 = (s) => Buffer.from(s).toString("base64url");
const stamp = (seconds) => {
  const bytes = [];
  for (let n = seconds; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from(bytes).toString("base64url");
};
const token = (payload, seconds) => `${b64(JSON.stringify(payload))}.${stamp(seconds)}.sig`;

const config = {
  policy_version: "2026-11-01",
  consent_lifetime_days: 365,
  google_consent_mode: { analytics_storage: "statistics", ad_storage: "third-party" },
  categories: [
    { id: "necessary", required: true, services: [{ cookies: [{ name: "consent" }] }] },
    { id: "statistics", required: false, services: [{ cookies: [{ name: "_pk_id" }, { name: "_pk_ses" }] }] },
    { id: "third-party", required: false, services: [{ cookies: [{ name: "_ga*" }] }] },
  ],
};
const NOW = 1_795_000_000;

test("parseToken reads consent id, policy version, bits and given_at", () => {
  assert.deepEqual(parseToken(token({ i: "abc", v: "2026-11-01", c: 2 }, NOW)), {
    id: "abc",
    version: "2026-11-01",
    bits: 2,
    given: NOW,
  });
});

test("parseToken refuses what does not parse or has the wrong shape", () => {
  for (const bad of ["", "x", "a.b", "!!!.???.sig", token({ i: 1, v: "x", c: 0 }, NOW), token({ i: "a", v: "x" }, NOW)]) {
    assert.equal(parseToken(bad), null, bad);
  }
});

test("restore: no token, another policy or an expired one means undecided", () => {
  const undecided = { choices: { necessary: true, statistics: false, "third-party": false }, decided: false, id: null, given: null };
  const t = (v, given) => ({ id: "abc", version: v, bits: 3, given });
  assert.deepEqual(restore(config, null, NOW * 1000), undecided);
  assert.deepEqual(restore(config, t("2025-01-01", NOW), NOW * 1000), undecided);
  assert.deepEqual(restore(config, t("2026-11-01", NOW - 366 * 86400), NOW * 1000), undecided);
  // A refusal on day 179 still holds (C15).
  const refused = restore(config, { ...t("2026-11-01", NOW - 179 * 86400), bits: 0 }, NOW * 1000);
  assert.equal(refused.decided, true);
  assert.deepEqual(refused.choices, { necessary: true, statistics: false, "third-party": false });
});

test("restore: bit k is the k-th optional category in config order", () => {
  for (const [bits, stats, third] of [[0, false, false], [1, true, false], [2, false, true], [3, true, true]]) {
    const c = restore(config, { id: "x", version: "2026-11-01", bits, given: NOW }, NOW * 1000);
    assert.deepEqual(c.choices, { necessary: true, statistics: stats, "third-party": third });
  }
});

test("all, optional, withdrawn, allows, cookieNames", () => {
  assert.deepEqual(all(config, true), { necessary: true, statistics: true, "third-party": true });
  assert.deepEqual(all(config, false), { necessary: true, statistics: false, "third-party": false });
  assert.deepEqual(optional(config).map((c) => c.id), ["statistics", "third-party"]);
  const gone = withdrawn(config, all(config, true), { ...all(config, true), statistics: false });
  assert.deepEqual(gone.map((c) => c.id), ["statistics"]);
  assert.deepEqual(cookieNames(gone), ["_pk_id", "_pk_ses"]);
  assert.equal(allows(all(config, true), " statistics  third-party "), true);
  assert.equal(allows({ statistics: true }, "statistics third-party"), false);
  assert.equal(allows({}, "unknown"), false);
});

test("consentMode: all four denied by default, then one update from the choices", () => {
  globalThis.window = {};
  consentMode(config, null);
  consentMode(config, { necessary: true, statistics: true, "third-party": false });
  const calls = window.dataLayer.map((a) => Array.from(a));
  assert.deepEqual(calls, [
    ["consent", "default", { analytics_storage: "denied", ad_storage: "denied", ad_user_data: "denied", ad_personalization: "denied" }],
    ["consent", "update", { analytics_storage: "granted", ad_storage: "denied", ad_user_data: "denied", ad_personalization: "denied" }],
  ]);
  // gtag() pushes an Arguments object, which Google's tags require.
  assert.equal(Object.prototype.toString.call(window.dataLayer[0]), "[object Arguments]");
  globalThis.window = {};
  consentMode({ ...config, google_consent_mode: {} }, null);
  assert.equal(window.dataLayer, undefined, "a site that maps no signal gets no dataLayer");
  // After the inline snippet's default (C17), no second default; updates still come.
  globalThis.window = { dataLayer: [["consent", "default", {}]] };
  consentMode(config, null);
  consentMode(config, { necessary: true, statistics: true, "third-party": true });
  assert.deepEqual(window.dataLayer.map((a) => a[1]), ["default", "update"]);
});
