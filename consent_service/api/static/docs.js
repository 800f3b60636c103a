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

  // Swagger UI names each operation's button "get /path" (aria-label) while it shows "GET /path"
  // and the summary: a speech-input user saying what they see would not hit it (WCAG 2.5.3).
  // Without the label the button's name is its visible text. Its copy buttons have no name at
  // all (an icon only): they get one.
  function nameByContent(node) {
    if (!node.querySelectorAll) {
      return;
    }
    var buttons = node.querySelectorAll(".opblock-summary-control[aria-label]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].removeAttribute("aria-label");
    }
    var copies = node.querySelectorAll(".copy-to-clipboard > button:not([aria-label])");
    for (var j = 0; j < copies.length; j++) {
      copies[j].setAttribute("aria-label", "Copy to clipboard");
    }
  }
  new MutationObserver(function (changes) {
    for (var i = 0; i < changes.length; i++) {
      nameByContent(changes[i].target);
    }
  }).observe(root, { childList: true, subtree: true, attributes: true, attributeFilter: ["aria-label"] });
})();
