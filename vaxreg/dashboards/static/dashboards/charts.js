// Draws each chart of a page from the data its <script type="application/json"> holds (charts.py), with the
// vendored Chart.js. Without JavaScript the table beside each chart still says everything.
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  var locale = document.documentElement.lang || "vi";
  var number = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
  var colours = ["#1f6feb", "#2da44e", "#bf8700", "#cf222e"];

  document.querySelectorAll("[data-chart]").forEach(function (holder) {
    var source = document.getElementById(holder.getAttribute("data-chart"));
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    var canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", data.title + " — " + holder.getAttribute("data-table-hint"));
    holder.appendChild(canvas);
    holder.hidden = false;
    var suffix = data.percent ? " %" : "";
    var datasets = data.series.map(function (s, i) {
      return {
        label: s.name, data: s.values, borderColor: colours[i % colours.length],
        backgroundColor: data.kind === "bar" ? colours[i % colours.length] : "transparent",
        spanGaps: true, pointRadius: data.kind === "line" ? 0 : undefined, tension: 0
      };
    });
    if (data.goal) {
      datasets.push({
        label: data.goal.name, data: data.labels.map(function () { return data.goal.value; }),
        borderColor: "#cf222e", borderDash: [6, 4], pointRadius: 0, backgroundColor: "transparent"
      });
    }
    var horizontal = data.kind === "bar" && data.labels.length > 8;
    var values = { beginAtZero: true, ticks: { callback: function (v) { return number.format(v) + suffix; } } };
    var categories = { ticks: { maxRotation: 0, autoSkip: !horizontal } };
    if (horizontal) { holder.style.height = Math.max(18, data.labels.length * 1.2) + "rem"; }
    new Chart(canvas, {
      type: data.kind,
      data: { labels: data.labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        indexAxis: horizontal ? "y" : "x",
        plugins: {
          legend: { display: datasets.length > 1 },
          tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + number.format(c.parsed[horizontal ? "x" : "y"]) + suffix; } } }
        },
        scales: horizontal ? { x: values, y: categories } : { x: categories, y: values }
      }
    });
  });
})();
