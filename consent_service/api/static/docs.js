// Starts Swagger UI on the /docs page from the data attributes of #swagger-ui.
// A file rather than an inline script: the page's Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var config = JSON.parse(root.getAttribute("data-config") || "{}");
  config.url = root.getAttribute("data-spec-url");
  config.dom_id = "#swagger-ui";
  if (!("validatorUrl" in config)) {
    config.validatorUrl = null; // the public validator is another origin: never called
  }
  window.ui = window.SwaggerUIBundle(config);
})();
