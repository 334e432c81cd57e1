/**
 * The banner (first layer), the settings (second layer) and the iframe
 * placeholders: a thin layer over the state, rendered into shadow roots.
 * It decides nothing itself; every button calls back into main.
 * @module ui
 */
import { h, shadow } from "./dom.js";
import { texts } from "./texts.js";

/**
 * @param {{config: object, css: string,
 *          consent: function(): import("./state.js").Consent,
 *          lang: function(): string, setLang: function(string): void,
 *          decide: function(Object<string, boolean>, string): void,
 *          load: function(boolean=): Promise<void>,
 *          receipt: function(): Promise<?object>,
 *          allow: function(string[]): void,
 *          once: function(HTMLIFrameElement): void}} app
 * @returns {{open: function(string=): void, close: function(): void,
 *            placeholder: function(HTMLIFrameElement): Element,
 *            announce: function(string): void, rerender: function(): void}}
 */
export function createUI(app) {
  const { config } = app;
  const host = h("kakor-consent");
  const root = shadow(host, app.css);
  const status = h("div", { class: "s", role: "status" });
  root.append(status);
  let dialog = null;
  let layer = "first";
  let back = null;
  const fab = config.reopen_button && h("button", { class: "f", onclick: () => show() });

  /** Each category's switch, description and services. */
  function category(c, lang, t, choices) {
    const id = "k-" + c.id;
    const title = c.texts[lang].title;
    return h(
      "section",
      null,
      h(
        "div",
        { class: "ch" },
        h("h3", { id }, title),
        // A category that is always on is no choice, so it is not shown as one.
        c.required
          ? h("span", null, t.always)
          : h("button", {
              role: "switch",
              "aria-checked": String(choices[c.id]),
              "aria-labelledby": id,
              "aria-describedby": id + "d",
              "data-category": c.id,
              onclick: (e) => {
                const b = e.currentTarget;
                b.setAttribute("aria-checked", String(b.getAttribute("aria-checked") != "true"));
              },
            }),
      ),
      h("p", { id: id + "d" }, c.texts[lang].description),
      c.services.length > 0 &&
        h(
          "details",
          null,
          // One name per disclosure: three "Tjänster och kakor" would not tell them apart.
          h("summary", { "aria-label": t.services + ": " + title }, t.services),
          h(
            "ul",
            null,
            c.services.map((s) =>
              h(
                "li",
                null,
                h("strong", null, s.name),
                " (" + s.provider + ")",
                h(
                  "ul",
                  null,
                  s.cookies.map((k) =>
                    h("li", null, h("code", null, k.name), " · " + k.lifetime + " · " + (k.purpose[lang] || "")),
                  ),
                ),
              ),
            ),
          ),
        ),
    );
  }

  function render() {
    const lang = app.lang();
    const t = texts(config, lang);
    const consent = app.consent();
    const other = config.languages[(config.languages.indexOf(lang) + 1) % config.languages.length];
    // No type="button": there is no form in the shadow root for a button to submit.
    const btn = (label, onclick, cls) => h("button", { class: cls, onclick }, label);
    const choose = (value, action) => () => app.decide(value, action);
    const settings = layer == "settings";
    const switches = () => {
      const out = {};
      for (const s of dialog.querySelectorAll("[data-category]")) out[s.dataset.category] = s.getAttribute("aria-checked") == "true";
      return out;
    };
    const next = h(
      "div",
      {
        class: "d",
        role: "dialog",
        "aria-modal": "true",
        "aria-labelledby": "kt",
        "aria-describedby": "kd",
        lang,
        tabindex: "-1",
        onkeydown: keys,
      },
      h("h2", { id: "kt" }, settings ? t.settings_title : t.title),
      h("p", { id: "kd" }, settings ? t.settings_description : t.description),
      settings
        ? [
            config.categories.map((c) => category(c, lang, t, consent.choices)),
            consent.id &&
              h(
                "p",
                null,
                t.consent_id + ": ",
                h("code", null, consent.id),
                h("br"),
                t.consent_date + ": " + new Date(consent.given * 1000).toLocaleString(lang),
              ),
            consent.id && btn(t.receipt, () => receipt(t)),
          ]
        : [
            h("p", null, t.purposes),
            config.third_parties.length > 0 && h("p", null, t.third_parties + ": " + config.third_parties.join(", ") + "."),
            h("p", null, h("a", { href: config.api + "declaration?lang=" + lang }, t.declaration_link)),
          ],
      h(
        "button",
        {
          class: "l",
          lang: other,
          onclick: () => app.setLang(other).then(() => root.querySelector(".l").focus()),
        },
        t.language_switch,
      ),
      h(
        "div",
        { class: "r" },
        btn(t.accept_all, choose(true, "accept-all")),
        btn(t.reject_all, choose(false, "reject-all")),
        settings ? btn(t.save, () => app.decide(switches(), "save")) : btn(t.settings, () => show("settings")),
      ),
    );
    if (dialog) dialog.replaceWith(next);
    // The backdrop keeps a pointer off the page as Tab is kept in the dialog: it is modal.
    else root.append(h("div", { class: "b" }), next);
    dialog = next;
  }

  /**
   * Fetch the receipt of the newest decision and save it as a file the
   * visitor keeps; a failure is announced, since nothing else would show it.
   * The object URL is not revoked: the download reads it after this returns,
   * and a few hundred bytes held until the page goes cost nothing.
   */
  function receipt(t) {
    app.receipt().then((r) => {
      if (!r) return (status.textContent = t.receipt_failed);
      h("a", {
        href: URL.createObjectURL(new Blob([JSON.stringify(r)])),
        download: `kakor-${t.receipt_file}-${config.site}-${r.receipt.row.created_at.slice(0, 10)}.json`,
      }).click();
    });
  }

  /** Escape goes back a layer (or closes once a choice exists); Tab stays inside. */
  function keys(e) {
    if (e.key == "Escape") {
      e.preventDefault();
      if (layer == "settings") show("first");
      else if (app.consent().decided) close();
    } else if (e.key == "Tab") {
      const f = dialog.querySelectorAll("a[href],summary,button");
      const a = root.activeElement;
      const [first, last] = [f[0], f[f.length - 1]];
      if (e.shiftKey ? a == first || a == dialog : a == last) {
        e.preventDefault();
        (e.shiftKey ? last : first).focus();
      }
    }
  }

  /**
   * Open a layer ("first" or "settings") and move focus into it.
   * @param {string=} which
   */
  function show(which) {
    const settings = which == "settings";
    app.load(settings).then(() => {
      layer = settings ? "settings" : "first";
      shown();
    });
  }

  /** Render the chosen layer and move focus into it (the reopen button stays, under the backdrop). */
  function shown() {
    attach();
    const opening = !dialog;
    render();
    const target = (layer == "settings" && dialog.querySelector("[role=switch]")) || dialog;
    // Where focus is when the dialog takes it (not when it opened: a page may focus
    // its own field meanwhile) is where it goes back on close; the reopen button too.
    const focus = () =>
      dialog?.contains(root.activeElement) ||
      ((back = opening ? root.activeElement || document.activeElement : back), target.focus({ preventScroll: true }));
    // Moving between layers keeps focus in the dialog at once. Opening it
    // focuses once the frame that shows it is drawn: focusing now would force
    // a synchronous layout of the whole page inside our script.
    if (opening) requestAnimationFrame(() => setTimeout(focus));
    else focus();
  }

  function attach() {
    if (!host.isConnected) document.body.append(host);
  }

  /** Close the dialog and give focus back to where it was; show the reopen button. */
  function close() {
    if (fab) attach(), (fab.textContent = texts(config, (fab.lang = app.lang())).reopen), root.append(fab);
    if (!dialog) return;
    dialog.previousSibling.remove();
    dialog.remove();
    dialog = null;
    if (back?.isConnected && back != document.body) back.focus();
    back = null;
  }

  /**
   * The element shown in place of a blocked iframe: its categories, what
   * they are for, a button that loads this embed on this page only (nothing
   * stored), and one that allows its categories from now on.
   * @param {HTMLIFrameElement} f
   * @returns {Element}
   */
  function placeholder(f) {
    const lang = app.lang();
    const t = texts(config, lang);
    const cats = f.dataset.consent.trim().split(/\s+/);
    const chosen = config.categories.filter((c) => cats.includes(c.id)).map((c) => c.texts[lang]);
    const names = chosen.map((c) => c.title).join(", ");
    const what = f.title ? names + ": " + f.title : names;
    const el = h("kakor-embed", { class: f.getAttribute("class") });
    const w = f.getAttribute("width");
    const ht = f.getAttribute("height");
    if (w && ht) Object.assign(el.style, { maxWidth: "100%", width: w + "px", aspectRatio: w + "/" + ht });
    shadow(el, app.css).append(
      h(
        "div",
        { class: "p", lang },
        h("strong", null, what),
        chosen.map((c) => h("p", null, c.description)),
        h("button", { onclick: () => app.once(f) }, t.once),
        h("button", { onclick: () => app.allow(cats) }, t.allow + ": " + names),
      ),
    );
    return el;
  }

  return {
    open: show,
    close,
    placeholder,
    /** @param {string} text announced politely by screen readers */
    announce(text) {
      attach();
      status.textContent = text;
    },
    /** Render again in the current language, keeping the layer. */
    rerender() {
      if (dialog) render();
    },
  };
}
