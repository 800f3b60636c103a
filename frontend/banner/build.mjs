// Builds the banner (src/index.js and its modules) into the one file the service serves:
// consent_service/api/static/banner.js. Deterministic: the same sources and lock file give the
// same bytes, which tests/api/test_banner_build.py checks.
import { build } from "esbuild";

const out = process.argv[2] || new URL("../../consent_service/api/static/banner.js", import.meta.url).pathname;
await build({
  entryPoints: [new URL("src/index.js", import.meta.url).pathname],
  bundle: true,
  format: "iife",
  target: ["es2017"],
  minify: true,
  legalComments: "none",
  banner: { js: "/* consent_service cookie banner: sources in frontend/banner/src, built by `make banner`. */" },
  outfile: out,
  logLevel: "warning",
});
