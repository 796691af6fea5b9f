// Every table of the dashboards sorts by any column: a click on a column's title (a button, so the keyboard
// works too) orders the rows by that column, a second click the other way. The units below sort on the
// server as well (their titles are links), which works without JavaScript.
(function () {
  "use strict";
  var collator = new Intl.Collator(document.documentElement.lang || "vi", { numeric: true, sensitivity: "base" });

  function value(cell) {
    // The raw value where the page gives one (a number, an ISO day), else the text as shown.
    var raw = cell.getAttribute("data-value");
    if (raw === null || raw === "") { return cell.textContent.trim(); }
    return isNaN(Number(raw)) ? raw : Number(raw);
  }

  document.querySelectorAll("table.js-sort").forEach(function (table) {
    var body = table.tBodies[0];
    table.querySelectorAll("thead th").forEach(function (th, column) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (th.firstChild) { button.appendChild(th.firstChild); }
      th.appendChild(button);
      button.addEventListener("click", function () {
        var descending = th.getAttribute("aria-sort") === "ascending";
        table.querySelectorAll("thead th").forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = value(a.cells[column]), y = value(b.cells[column]);
          var order = typeof x === "number" && typeof y === "number" ? x - y : collator.compare(String(x), String(y));
          return descending ? -order : order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
