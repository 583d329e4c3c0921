// The portal's one script: the overview refreshes itself. Every few seconds
// it asks for the page again and swaps in the new #live section (HTML the
// portal rendered and escaped; nothing is built from data here). Without
// JavaScript the page still works: reload it.
(function () {
  "use strict";
  // The gate picker: choosing another channel or version shows its gate.
  var pick = document.getElementById("gate-pick");
  if (pick) {
    pick.querySelectorAll("select").forEach(function (s) {
      s.addEventListener("change", function () { pick.submit(); });
    });
  }
  var live = document.getElementById("live");
  if (!live || !window.fetch || !window.DOMParser) return;
  var seconds = parseInt(live.getAttribute("data-refresh"), 10) || 5;
  function refresh() {
    fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (text === null) return;
        var next = new DOMParser().parseFromString(text, "text/html").getElementById("live");
        var now = document.getElementById("live");
        if (next && now) now.replaceWith(next);
      })
      .catch(function () { /* a failed refresh keeps the last view */ })
      .then(function () { window.setTimeout(refresh, seconds * 1000); });
  }
  window.setTimeout(refresh, seconds * 1000);
})();
