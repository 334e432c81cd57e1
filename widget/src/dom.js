/**
 * The one DOM-building helper: elements from tag, attributes and children,
 * text always set as text (never parsed as HTML), and a shadow root with the
 * widget's stylesheet, isolated from the host page's CSS.
 * @module dom
 */

/**
 * Build an element. Attributes whose value is null/false are left out; keys
 * starting with "on" add listeners; strings among the children become text.
 * @param {string} tag
 * @param {?Object<string, *>} attrs
 * @param {...*} kids
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const k in attrs) {
    const v = attrs[k];
    if (v == null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  el.append(...kids.flat(9).filter((x) => x != null && x !== false));
  return el;
}

let sheet;

/**
 * Attach an open shadow root carrying the widget's stylesheet. A constructed
 * stylesheet needs no `style-src 'unsafe-inline'`; browsers without them get
 * a `<style>` element instead.
 * @param {Element} host
 * @param {string} css
 * @returns {ShadowRoot}
 */
export function shadow(host, css) {
  const root = host.attachShadow({ mode: "open" });
  try {
    if (!sheet) (sheet = new CSSStyleSheet()).replaceSync(css);
    root.adoptedStyleSheets = [sheet];
  } catch (e) {
    root.append(h("style", null, css));
  }
  return root;
}
