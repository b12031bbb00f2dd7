// Shared by every page: theme toggle, confirmations, model suggestions, rich text rendering.
(function () {
  "use strict";
  var base = document.body.dataset.base || "";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  window.poeConsole = { base: base, csrf: csrf };

  var toggle = document.getElementById("theme-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var root = document.documentElement;
      var next = root.getAttribute("data-theme") === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem("poe-console-theme", next); } catch (e) { /* ignore */ }
      document.dispatchEvent(new CustomEvent("theme-changed"));
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);

  // Model names for every <datalist id="model-options"> (the provider's live list).
  var lists = document.querySelectorAll("datalist#model-options");
  if (lists.length && csrf) {
    fetch(base + "/settings/models?format=ids", { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (ids) {
        lists.forEach(function (list) {
          ids.forEach(function (id) {
            var option = document.createElement("option");
            option.value = id;
            list.appendChild(option);
          });
        });
      })
      .catch(function () { /* suggestions are a nicety */ });
  }

  // Text with links, images, video, audio and code blocks, built as DOM nodes (never innerHTML).
  var MEDIA = /\.(png|jpe?g|gif|webp|svg)(\?|$)/i, VIDEO = /\.(mp4|webm|mov)(\?|$)/i,
      AUDIO = /\.(mp3|wav|ogg|m4a|flac)(\?|$)/i;
  var TOKEN = /(```[\s\S]*?```|!\[[^\]]*\]\([^)\s]+\)|\[[^\]]+\]\([^)\s]+\)|https?:\/\/[^\s<>()"']+)/g;
  function mediaNode(url, kind) {
    var el;
    if (kind === "image") { el = document.createElement("img"); el.alt = ""; el.loading = "lazy"; }
    else if (kind === "video") { el = document.createElement("video"); el.controls = true; }
    else if (kind === "audio") { el = document.createElement("audio"); el.controls = true; }
    else return null;
    el.src = url;
    return el;
  }
  function safeUrl(url) { return /^(https?:|data:image\/|data:audio\/|data:video\/)/i.test(url) ? url : null; }
  function kindOf(url) {
    if (/^data:image\//i.test(url) || MEDIA.test(url)) return "image";
    if (/^data:video\//i.test(url) || VIDEO.test(url)) return "video";
    if (/^data:audio\//i.test(url) || AUDIO.test(url)) return "audio";
    return null;
  }
  function renderRich(el, text) {
    el.textContent = "";
    var last = 0, match;
    TOKEN.lastIndex = 0;
    while ((match = TOKEN.exec(text)) !== null) {
      if (match.index > last) el.appendChild(document.createTextNode(text.slice(last, match.index)));
      var token = match[0], node = null, m;
      if (token.indexOf("```") === 0) {
        node = document.createElement("pre");
        node.textContent = token.replace(/^```[^\n]*\n?/, "").replace(/```$/, "");
      } else if ((m = /^!\[([^\]]*)\]\(([^)\s]+)\)$/.exec(token))) {
        var url = safeUrl(m[2]);
        node = url ? mediaNode(url, kindOf(url) || "image") : null;
      } else if ((m = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(token))) {
        var href = safeUrl(m[2]);
        if (href) {
          var kind = kindOf(href);
          node = kind ? mediaNode(href, kind) : document.createElement("a");
          if (!kind) { node.href = href; node.textContent = m[1]; node.target = "_blank"; node.rel = "noopener noreferrer"; }
        }
      } else {
        var bare = safeUrl(token);
        if (bare) {
          var k = kindOf(bare);
          node = k ? mediaNode(bare, k) : document.createElement("a");
          if (!k) { node.href = bare; node.textContent = bare; node.target = "_blank"; node.rel = "noopener noreferrer"; }
        }
      }
      el.appendChild(node || document.createTextNode(token));
      last = match.index + token.length;
    }
    if (last < text.length) el.appendChild(document.createTextNode(text.slice(last)));
  }
  window.poeConsole.renderRich = renderRich;
  window.poeConsole.mediaNode = mediaNode;
  window.poeConsole.safeUrl = safeUrl;
  document.querySelectorAll("[data-rich]").forEach(function (el) { renderRich(el, el.textContent); });
})();
