// wacamp console: refresh the live parts of the page (elements with an id
// and data-live) from the same URL every data-refresh milliseconds, while
// the tab is visible. No other script runs on these pages.
(function () {
  "use strict";
  var every = Number(document.body.getAttribute("data-refresh"));
  if (!every) { return; }
  var busy = false;
  function refresh() {
    if (busy || document.visibilityState !== "visible") { return; }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (resp) { return resp.ok ? resp.text() : Promise.reject(resp.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live][id]").forEach(function (el) {
          var next = fresh.getElementById(el.id);
          if (next) { el.replaceWith(document.importNode(next, true)); }
        });
        document.body.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* keep what is shown; the next tick tries again */ })
      .then(function () { busy = false; });
  }
  window.setInterval(refresh, every);
})();
