// nhiwarden HTML report: sort and filter the findings table. No network, no data from the page's
// URL, no innerHTML: it only reorders and hides rows the server rendered (and escaped).
(function () {
  "use strict";
  var table = document.getElementById("findings");
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var filter = document.getElementById("filter");
  var severity = document.getElementById("severity-filter");
  var status = document.getElementById("status-filter");
  var counter = document.getElementById("shown");

  function apply() {
    var needle = (filter.value || "").toLowerCase().trim();
    var sev = severity.value;
    var st = status.value;
    var shown = 0;
    rows.forEach(function (row) {
      var ok = (!needle || row.getAttribute("data-text").indexOf(needle) !== -1) &&
        (!sev || row.getAttribute("data-severity") === sev) &&
        (!st || row.getAttribute("data-status") === st);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    counter.textContent = shown + " of " + rows.length + " shown";
    document.body.setAttribute("data-filtered", String(shown));
  }

  function sortBy(index, numeric, header) {
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      cell.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    rows.sort(function (a, b) {
      var x = a.cells[index].getAttribute("data-sort") || a.cells[index].textContent;
      var y = b.cells[index].getAttribute("data-sort") || b.cells[index].textContent;
      var cmp = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return ascending ? cmp : -cmp;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, index) {
    if (!header.classList.contains("sortable")) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = header.textContent;
    header.textContent = "";
    header.appendChild(button);
    button.addEventListener("click", function () {
      sortBy(index, header.getAttribute("data-type") === "number", header);
    });
  });
  [filter, severity, status].forEach(function (el) {
    el.addEventListener("input", apply);
    el.addEventListener("change", apply);
  });
  apply();
  document.body.setAttribute("data-ready", "true");
}());
