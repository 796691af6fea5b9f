// Ticking every row of a page is the common case; without JavaScript the boxes still work one by one.
(function () {
  var all = document.getElementById("pick-all");
  all.hidden = false;
  all.addEventListener("change", function () {
    document.querySelectorAll('input[name="case_ids"]').forEach(function (box) { box.checked = all.checked; });
  });
})();
