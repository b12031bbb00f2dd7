// The run page follows the stored run: each saved change arrives as a server-sent event
// carrying the re-rendered live part of the page.
(function () {
  "use strict";
  var live = document.getElementById("run-live");
  if (!live || !window.EventSource) return;
  var source = new EventSource(live.dataset.events);
  source.addEventListener("state", function (event) { live.innerHTML = event.data; });
  source.addEventListener("finished", function () { source.close(); });
  source.onerror = function () { /* the browser reconnects by itself */ };
})();
