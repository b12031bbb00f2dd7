// `poe-mcp console --open` opens /console/login#token=...: fill the form from the fragment
// (never sent to the server by the browser), drop it from the address bar, and log in.
(function () {
  "use strict";
  var match = /[#&]token=([^&]+)/.exec(window.location.hash || "");
  if (!match) return;
  history.replaceState(null, "", window.location.pathname);
  var input = document.getElementById("token");
  var form = document.getElementById("login-form");
  if (input && form && !document.getElementById("login-error")) {
    input.value = decodeURIComponent(match[1]);
    form.submit();
  }
})();
