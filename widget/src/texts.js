/**
 * Words the widget needs that a site config may leave out; a site's `texts`
 * override them key by key.
 * @module texts
 */
const BUILTIN = {
  sv: {
    allow: "Tillåt",
    services: "Tjänster och kakor",
  },
  en: {
    allow: "Allow",
    services: "Services and cookies",
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
