/**
 * Gated content in the host page: `<script type="text/plain" data-consent>`
 * and `<iframe data-consent data-src>`. Scripts run once their categories are
 * allowed, in document order, each external one loaded before the next runs;
 * iframes stay empty behind a placeholder until then. Content added later is
 * seen through a MutationObserver.
 * @module gate
 */
import { allows } from "./state.js";

const SCRIPTS = 'script[type="text/plain"][data-consent]';
const FRAMES = "iframe[data-consent][data-src]";

/**
 * @param {{choices: function(): Object<string, boolean>,
 *          placeholder: function(HTMLIFrameElement): Element}} hooks
 *   `placeholder` builds the element shown in place of a blocked iframe
 * @returns {{apply: function(): void, start: function(): void}}
 */
export function createGate(hooks) {
  let running = false;
  let again = false;
  /** @type {Map<HTMLIFrameElement, Element>} */
  const placeholders = new Map();

  /** Replace an inert script by a live copy; resolve once it has run. */
  function run(old) {
    return new Promise((done) => {
      const s = document.createElement("script");
      for (const a of old.attributes) {
        if (!/^(type|data-src|data-type)$/.test(a.name)) s.setAttribute(a.name, a.value);
      }
      if (old.dataset.type) s.type = old.dataset.type;
      s.nonce = old.nonce;
      const src = old.dataset.src;
      if (src) {
        s.async = false;
        s.onload = s.onerror = done;
        s.src = src;
      } else {
        s.text = old.text;
      }
      old.replaceWith(s);
      if (!src) done();
    });
  }

  async function runScripts() {
    if (running) return void (again = true);
    running = true;
    do {
      again = false;
      for (const el of document.querySelectorAll(SCRIPTS)) {
        if (el.isConnected && allows(hooks.choices(), el.dataset.consent)) await run(el);
      }
    } while (again);
    running = false;
  }

  /** @param {HTMLIFrameElement} f */
  function frame(f) {
    // `kakorOnce`: the visitor let this one frame load, on this page only (never stored).
    const ok = f.kakorOnce || allows(hooks.choices(), f.dataset.consent);
    const ph = placeholders.get(f);
    if (ok) {
      if (ph) ph.remove(), placeholders.delete(f);
      f.style.removeProperty("display");
      if (f.getAttribute("src") != f.dataset.src) f.src = f.dataset.src;
    } else {
      if (f.hasAttribute("src")) f.src = "about:blank";
      f.style.setProperty("display", "none", "important");
      const next = hooks.placeholder(f);
      if (ph) ph.replaceWith(next);
      else f.before(next);
      placeholders.set(f, next);
    }
  }

  /** Bring every gated element in line with the current choices. */
  function apply() {
    document.querySelectorAll(FRAMES).forEach(frame);
    // `src` instead of `data-src` loads at once, before any choice: say so, loudly.
    for (const f of document.querySelectorAll("iframe[data-consent]:not([data-src])")) {
      console.warn("kakor: iframe with data-consent but no data-src loads ungated", f.src);
    }
    for (const [f, ph] of placeholders) if (!f.isConnected) ph.remove(), placeholders.delete(f);
    runScripts();
  }

  /** Watch the document for gated content added later (single-page apps). */
  function start() {
    apply();
    new MutationObserver((records) => {
      for (const r of records) {
        for (const n of r.addedNodes) {
          if (n.nodeType == 1 && (n.matches(SCRIPTS + "," + FRAMES) || n.querySelector(SCRIPTS + "," + FRAMES))) {
            return apply();
          }
        }
      }
    }).observe(document.documentElement, { childList: true, subtree: true });
  }

  return { apply, start };
}
