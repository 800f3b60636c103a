/* The demo shop's stand-in for an external analytics script: the banner loads it only once
   "Website analytics" and its _ga cookie are allowed. It notes that it ran and sets the _ga cookie the demo site
   declares for that purpose (a first-party cookie, deleted by the banner on withdrawal). */
(function () {
  var log = document.getElementById("analytics-log");
  if (log) {
    var item = document.createElement("li");
    item.textContent = "external analytics script (demo/analytics.js) ran";
    log.appendChild(item);
  }
  document.cookie = "_ga=GA1.1." + Math.floor(Math.random() * 1e9) + "; path=/; max-age=" + 60 * 60 * 24 * 395 + "; SameSite=Lax";
})();
