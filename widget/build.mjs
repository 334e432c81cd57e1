// Builds consent_service/widget/static/widget.js from src/: one minified IIFE with
// the CSS inlined as a string. The output is committed and must be
// byte-identical to a fresh build (tests/test_widget_build.py checks it).
// `node build.mjs --out FILE` writes elsewhere (the test builds to a temp file).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
const i = process.argv.indexOf("--out");
const out = i > 0 ? process.argv[i + 1] : join(here, "..", "consent_service", "widget", "static", "widget.js");

const css = (
  await esbuild.transform(readFileSync(join(here, "src", "widget.css"), "utf8"), { loader: "css", minify: true })
).code.trim();

const result = await esbuild.build({
  entryPoints: [join(here, "src", "main.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  charset: "utf8",
  legalComments: "none",
  write: false,
  define: { __KAKOR_CSS__: JSON.stringify(css), __KAKOR_VERSION__: JSON.stringify(pkg.version) },
  banner: { js: `/*! kakor widget ${pkg.version} | MIT */` },
});
const code = result.outputFiles[0].text;
if (code.split("__KAKOR_CONFIG__").length != 2) throw new Error("__KAKOR_CONFIG__ must occur exactly once");
writeFileSync(out, code);
console.log(`${out}: ${code.length} bytes`);
