// Builds the UI's scripts: our chart wrappers and page glue bundled with uPlot (from
// node_modules, pinned by package-lock.json) into static/pulse/dist/, served by staticfiles.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "static", "pulse", "dist");
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(here, "static", "pulse", "js", "apm.js")],
  outfile: join(out, "apm.js"),
  bundle: true,
  format: "iife",
  target: ["es2020"],
  minify: true,
  sourcemap: true,
  legalComments: "linked",
  logLevel: "warning",
});
copyFileSync(join(here, "node_modules", "uplot", "dist", "uPlot.min.css"), join(out, "uPlot.min.css"));
