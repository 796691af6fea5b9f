// Progressive help for the public complaint form: pick the commune and facility from lists instead of
// typing their codes (the text boxes stay as they are when scripts do not run), and copy the tracking code.
(function () {
  "use strict";
  var API = "/api/public/complaints/places/";

  function fetchList(path) {
    return fetch(API + path, { headers: { Accept: "application/json" } }).then(function (r) {
      return r.ok ? r.json() : [];
    });
  }

  function makeSelect(input, unknownLabel) {
    var select = document.createElement("select");
    select.id = input.id;
    select.name = input.name;
    select.dataset.initial = input.value;
    select.dataset.unknown = unknownLabel;
    input.parentNode.replaceChild(select, input);
    return select;
  }

  function fill(select, rows) {
    var keep = select.value || select.dataset.initial || "";
    select.textContent = "";
    var none = document.createElement("option");
    none.value = "";
    none.textContent = select.dataset.unknown;
    select.appendChild(none);
    rows.forEach(function (row) {
      var option = document.createElement("option");
      option.value = row.code;
      option.textContent = row.name + " (" + row.code + ")";
      select.appendChild(option);
    });
    if (keep && rows.some(function (row) { return row.code === keep; })) {
      select.value = keep;
    } else if (keep && select.dataset.initial === keep) {
      // A code typed before that the list does not hold: keep it so the check can name it.
      var typed = document.createElement("option");
      typed.value = keep;
      typed.textContent = keep;
      select.appendChild(typed);
      select.value = keep;
    }
    select.dataset.initial = "";
  }

  function places() {
    var province = document.getElementById("id_province_code");
    var communeInput = document.getElementById("id_commune_code");
    var facilityInput = document.getElementById("id_facility_code");
    if (!province || !communeInput || !facilityInput || !window.fetch) return;
    var commune = makeSelect(communeInput, "— Không rõ / I don't know —");
    var facility = makeSelect(facilityInput, "— Không rõ / I don't know —");
    // The hints explain how to type a code by hand, which the lists make unnecessary.
    document.querySelectorAll("[data-no-script]").forEach(function (hint) {
      hint.style.display = "none";
    });

    function loadFacilities() {
      var query = commune.value ? "commune=" + encodeURIComponent(commune.value)
        : province.value ? "province=" + encodeURIComponent(province.value) : "";
      if (!query) { fill(facility, []); return Promise.resolve(); }
      return fetchList("facilities?" + query).then(function (rows) { fill(facility, rows); });
    }
    function loadCommunes() {
      if (!province.value) { fill(commune, []); return loadFacilities(); }
      return fetchList("communes?province=" + encodeURIComponent(province.value)).then(function (rows) {
        fill(commune, rows);
        return loadFacilities();
      });
    }
    province.addEventListener("change", function () { commune.value = ""; facility.value = ""; loadCommunes(); });
    commune.addEventListener("change", function () { facility.value = ""; loadFacilities(); });
    loadCommunes();
  }

  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.querySelector(button.dataset.copy);
        if (!source || !navigator.clipboard) return;
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          button.textContent = button.dataset.copied;
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    places();
    copyButtons();
  });
})();
