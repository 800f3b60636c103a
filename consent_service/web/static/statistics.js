// The statistics page's charts, an enhancement: the tables beside them carry the numbers, and
// the page works without this script. The data come from the page's JSON block (no inline
// script, so the console's Content-Security-Policy stays script-src 'self'); Chart.js
// (static/chart.js, make chartjs) draws them without animation, for prefers-reduced-motion and
// because a dashboard needs none. Colours have at least 3:1 contrast against white, and a
// missing (suppressed) number is a gap, never a zero.
(function () {
  "use strict";

  var COLOURS = ["#1f5fa8", "#b3261e", "#1e7b34", "#8a4b00", "#6b3fa0", "#00707a", "#5c5c5c"];
  var DASHES = [[], [6, 4], [2, 3], [10, 3, 2, 3]];

  function draw(Chart, canvas, spec) {
    var datasets = spec.series.map(function (series, i) {
      var colour = COLOURS[i % COLOURS.length];
      return {
        label: series.label,
        data: series.data,
        borderColor: colour,
        backgroundColor: colour,
        borderDash: spec.kind === "line" ? DASHES[i % DASHES.length] : undefined,
        // bars have no border of their own: without one a star's legend marker is invisible
        borderWidth: spec.kind === "bar" ? 2 : undefined,
        pointRadius: spec.kind === "line" ? 4 : undefined,
        pointStyle: ["circle", "rect", "triangle", "rectRot", "star", "crossRot"][i % 6],
        spanGaps: false,
      };
    });
    var y = { beginAtZero: true, stacked: !!spec.stacked, ticks: { color: "#333", precision: 0 } };
    if (spec.percent) {
      y.max = 100;
      y.ticks.callback = function (value) {
        return value + " %";
      };
    }
    return new Chart(canvas, {
      type: spec.kind,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        layout: { padding: { right: 16 } }, // the last period's label and point stay whole
        scales: { x: { stacked: !!spec.stacked, ticks: { color: "#333" } }, y: y },
        plugins: { legend: { labels: { color: "#1a1a1a", usePointStyle: true } } },
      },
    });
  }

  function start() {
    var block = document.getElementById("chart-data");
    if (!block || typeof window.Chart === "undefined") {
      return;
    }
    var specs = JSON.parse(block.textContent);
    var canvases = document.querySelectorAll("canvas[data-chart]");
    for (var i = 0; i < canvases.length; i += 1) {
      var spec = specs[canvases[i].getAttribute("data-chart")];
      if (spec) {
        draw(window.Chart, canvases[i], spec);
      }
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
