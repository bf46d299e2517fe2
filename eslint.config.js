// ESLint for the product's browser code (no build step: what is linted is what the browser loads) and
// its node unit tests. `make lint` and `make test` run it.
import js from "@eslint/js";
import globals from "globals";

export default [
  // Vendored libraries are checked against their npm package instead (tests/uploader/static/vendor.test.mjs).
  { ignores: ["node_modules/", ".venv/", "bench/results/", "htmlcov/", "uploader/static/vendor/"] },
  js.configs.recommended,
  {
    rules: {
      eqeqeq: ["error", "always"],
      "no-var": "error",
      "prefer-const": "error",
      "no-unused-vars": ["error", { args: "after-used", caughtErrors: "none" }],
      "no-implicit-globals": "error",
    },
  },
  // The widget and the uploader: ES modules loaded by the page.
  {
    files: ["uploader/static/chat/**/*.js", "uploader/static/uploader/**/*.js"],
    languageOptions: { sourceType: "module", globals: globals.browser },
  },
  // Classic scripts: the embed tag on customers' sites, the viewer's pages.
  {
    files: ["uploader/static/embed.js", "viewer/static/**/*.js"],
    languageOptions: { sourceType: "script", globals: globals.browser },
  },
  {
    files: ["tests/**/*.mjs", "eslint.config.js"],
    languageOptions: { sourceType: "module", globals: globals.node },
  },
];
