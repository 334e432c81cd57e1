/**
 * Words the widget needs that a site config may leave out; a site's `texts`
 * override them key by key.
 * @module texts
 */
const BUILTIN = {
  sv: {
    allow: "Tillåt alltid",
    once: "Tillåt den här gången",
    services: "Tjänster och kakor",
    receipt: "Ladda ner kvitto",
    receipt_file: "kvitto",
    receipt_failed: "Kvittot kunde inte hämtas.",
    always: "Alltid aktiv",
    third_parties: "Tredje parter",
    reopen: "Cookie-inställningar",
  },
  en: {
    allow: "Always allow",
    once: "Allow this time",
    services: "Services and cookies",
    receipt: "Download receipt",
    receipt_file: "receipt",
    receipt_failed: "The receipt could not be fetched.",
    always: "Always active",
    third_parties: "Third parties",
    reopen: "Cookie settings",
  },
};

/**
 * The texts of one language: the built-in words under the site's own.
 * @param {object} config
 * @param {string} lang
 * @returns {Object<string, string>}
 */
export function texts(config, lang) {
  return { ...(BUILTIN[lang] || BUILTIN.en), ...config.texts[lang] };
}
