// The console's only script, and only an enhancement: every page works without it.
//
// Live regions: an element with an id and data-live="SECONDS" (the progress of a run or of a
// verification) is fetched again from the page's own address every SECONDS seconds, and its
// contents are replaced by their new version, so the region (role="status") announces the change
// and nothing else on the page moves. When the new version no longer has data-live, the work is
// done: the page is loaded again to show the result. Without the script the page has a link that
// reloads it by hand.
(function () {
  "use strict";

  function follow(region) {
    var seconds = parseInt(region.getAttribute("data-live"), 10);
    if (!(seconds > 0)) {
      return;
    }
    window.setTimeout(function () {
      window
        .fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.text();
        })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(region.id);
          if (!fresh || !fresh.hasAttribute("data-live")) {
            window.location.reload();
            return;
          }
          region.replaceChildren.apply(region, Array.prototype.map.call(fresh.childNodes, function (node) {
            return document.importNode(node, true);
          }));
          follow(region);
        })
        .catch(function () {
          follow(region); // a failed poll (a restart, a lost connection) is tried again
        });
    }, seconds * 1000);
  }

  var regions = document.querySelectorAll("[data-live][id]");
  for (var i = 0; i < regions.length; i++) {
    follow(regions[i]);
  }
})();
