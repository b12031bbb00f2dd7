// The Discussion page: send a message (with attachments), follow the answer as it streams
// (server-sent events), show tool calls and media inline, stop it, and keep the list current.
(function () {
  "use strict";
  var pc = window.poeConsole || {};
  var base = pc.base || document.body.dataset.base || "";
  var csrf = pc.csrf || "";
  var chat = document.getElementById("chat");
  if (!chat) return;
  var messages = document.getElementById("messages");
  var form = document.getElementById("composer");
  var input = document.getElementById("message");
  var sendButton = document.getElementById("send");
  var stopButton = document.getElementById("stop");
  var fileInput = document.getElementById("file-input");
  var dropZone = document.getElementById("drop-zone");
  var strip = document.getElementById("attachments");
  var errorBox = document.getElementById("composer-error");
  var statusBox = document.getElementById("composer-status");
  var uploadMax = parseInt(chat.dataset.uploadMax || "0", 10);
  var totalMax = parseInt(chat.dataset.totalMax || "0", 10); // the server's body limit, less framing
  var attachmentsMax = parseInt(chat.dataset.attachmentsMax || "8", 10);
  var sessionId = chat.dataset.session || "";
  var files = [];
  var current = null; // {turnId, source, bubble}
  var firstText = ""; // the first question of a new conversation names it

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function scroll() { messages.scrollTop = messages.scrollHeight; }
  function showError(text) { errorBox.textContent = text || ""; }
  function value(id) { var n = document.getElementById(id); return n ? n.value : ""; }
  function mb(bytes) { return (bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0); }
  function attached() { return files.reduce(function (n, f) { return n + f.size; }, 0); }

  // --- attachments: picker, drag and drop, clipboard paste -----------------------------------
  function addFiles(list) {
    showError("");
    var used = attached();
    for (var i = 0; i < list.length; i++) {
      var file = list[i];
      if (files.length >= attachmentsMax) { showError("At most " + attachmentsMax + " attachments per message."); break; }
      if (uploadMax && file.size > uploadMax) { showError(file.name + " is too large (max " + mb(uploadMax) + " MB per file on this server)."); continue; }
      if (totalMax && used + file.size > totalMax) { showError(file.name + " does not fit: a message's attachments add up to at most " + mb(totalMax) + " MB on this server."); continue; }
      used += file.size;
      files.push(file);
    }
    drawFiles();
  }
  function drawFiles() {
    strip.textContent = "";
    files.forEach(function (file, index) {
      var chip = el("span", "file-chip");
      if (/^image\//.test(file.type)) {
        var img = el("img");
        img.src = URL.createObjectURL(file);
        img.alt = "";
        chip.appendChild(img);
      }
      chip.appendChild(el("span", "", file.name + " · " + Math.max(1, Math.round(file.size / 1024)) + " KB"));
      var remove = el("button", "", "×");
      remove.type = "button";
      remove.title = "Remove";
      remove.addEventListener("click", function () { files.splice(index, 1); drawFiles(); });
      chip.appendChild(remove);
      strip.appendChild(chip);
    });
  }
  fileInput.addEventListener("change", function () { addFiles(fileInput.files); fileInput.value = ""; });
  ["dragenter", "dragover"].forEach(function (name) {
    dropZone.addEventListener(name, function (e) { e.preventDefault(); dropZone.classList.add("dragging"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    dropZone.addEventListener(name, function (e) { e.preventDefault(); dropZone.classList.remove("dragging"); });
  });
  dropZone.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) addFiles(e.dataTransfer.files);
  });
  document.addEventListener("paste", function (e) {
    var items = (e.clipboardData && e.clipboardData.items) || [];
    var pasted = [];
    for (var i = 0; i < items.length; i++) {
      if (items[i].kind === "file" && /^image\//.test(items[i].type)) {
        var blob = items[i].getAsFile();
        if (blob) {
          var ext = (blob.type.split("/")[1] || "png").replace("jpeg", "jpg");
          pasted.push(new File([blob], "screenshot-" + new Date().toISOString().replace(/[:.]/g, "-") + "." + ext, { type: blob.type }));
        }
      }
    }
    if (pasted.length) { e.preventDefault(); addFiles(pasted); }
  });

  // --- bubbles -----------------------------------------------------------------------------
  function hideEmpty() { var empty = document.getElementById("empty-state"); if (empty) empty.remove(); }
  function userBubble(text, sent) {
    hideEmpty();
    var msg = el("div", "msg user");
    msg.appendChild(el("div", "avatar", "You"));
    var body = el("div", "body");
    body.appendChild(el("div", "who", "You"));
    if (text) body.appendChild(el("div", "text", text));
    if (sent.length) {
      var list = el("div", "files");
      sent.forEach(function (file) {
        var chip = el("span", "file-chip");
        if (/^image\//.test(file.type)) { var img = el("img"); img.src = URL.createObjectURL(file); img.alt = ""; chip.appendChild(img); }
        chip.appendChild(el("span", "", file.name));
        list.appendChild(chip);
      });
      body.appendChild(list);
    }
    msg.appendChild(body);
    messages.appendChild(msg);
  }
  function assistantBubble(model) {
    var msg = el("div", "msg assistant streaming");
    msg.appendChild(el("div", "avatar", "AI"));
    var body = el("div", "body");
    body.appendChild(el("div", "who", model));
    var tools = el("div", "tools");
    var text = el("div", "text");
    var caret = el("span", "cursor");
    text.appendChild(caret);
    var media = el("div", "media");
    var meta = el("div", "meta");
    body.appendChild(tools); body.appendChild(text); body.appendChild(media); body.appendChild(meta);
    msg.appendChild(body);
    messages.appendChild(msg);
    return { root: msg, tools: tools, text: text, caret: caret, media: media, meta: meta, raw: "", calls: {} };
  }
  function setText(bubble, raw) {
    bubble.raw = raw;
    bubble.text.textContent = raw;
    bubble.text.appendChild(bubble.caret);
  }
  function toolBlock(bubble, call) {
    var box = el("details", "tool");
    box.open = true;
    box.dataset.call = call.id || "";
    var summary = el("summary");
    summary.appendChild(el("span", "", "Tool call"));
    summary.appendChild(el("span", "tool-name", call.name));
    var badge = el("span", "status badge unknown", "running");
    summary.appendChild(badge);
    box.appendChild(summary);
    var args = call.arguments;
    try { args = JSON.stringify(JSON.parse(call.arguments), null, 2); } catch (e) { /* as sent */ }
    box.appendChild(el("pre", "args", args));
    bubble.tools.appendChild(box);
    bubble.calls[call.id] = { box: box, badge: badge };
  }
  function toolResult(bubble, data) {
    var entry = bubble.calls[data.id];
    if (!entry) { toolBlock(bubble, { id: data.id, name: data.name, arguments: "" }); entry = bubble.calls[data.id]; }
    entry.badge.textContent = data.error ? "failed" : "done";
    entry.badge.className = "status badge " + (data.error ? "no" : "yes");
    entry.box.appendChild(el("pre", "result", data.error || data.result || ""));
  }
  function finish(bubble, data) {
    bubble.root.classList.remove("streaming");
    bubble.root.dataset.done = "1";
    bubble.caret.remove();
    if (pc.renderRich) pc.renderRich(bubble.text, data.text !== undefined ? data.text : bubble.raw);
    // A generated image the answer's text already shows (a Markdown image) is shown once.
    var shown = {};
    bubble.text.querySelectorAll("img, video, audio").forEach(function (n) { shown[n.getAttribute("src")] = true; });
    Array.prototype.slice.call(bubble.media.children).forEach(function (n) {
      if (shown[n.getAttribute("src")]) n.remove();
    });
    bubble.root.querySelector(".who").textContent = data.model;
    var parts = [
      ["model", data.model],
      ["tokens", data.input_tokens.toLocaleString() + " in / " + data.output_tokens.toLocaleString() + " out" + (data.estimated ? " (estimated)" : "")],
      ["cost", data.cost_text],
      ["latency", data.latency_s.toFixed(2) + " s"]
    ];
    if (data.simulated) parts.push(["simulated", "simulated"]);
    parts.forEach(function (p) { bubble.meta.appendChild(el("span", p[0], p[1])); });
  }

  // --- a turn ------------------------------------------------------------------------------
  function busy(on) {
    sendButton.disabled = on;
    stopButton.classList.toggle("hidden", !on);
    statusBox.textContent = on ? "Answering…" : "";
  }
  function refreshSessions(id) {
    fetch(base + "/discussion/sessions?session=" + encodeURIComponent(id), { headers: { "HX-Request": "true" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html) document.getElementById("sessions").innerHTML = html; })
      .catch(function () { /* the list refreshes on the next page */ });
  }
  function refreshHead(id) {
    // A new conversation got its id: show its controls (rename, export, reset, delete) too.
    fetch(base + "/discussion/head?session=" + encodeURIComponent(id), { headers: { "HX-Request": "true" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var old = document.querySelector(".conv-head");
        if (!html || !old) return;
        var holder = document.createElement("div");
        holder.innerHTML = html; // rendered by the console, autoescaped like every page
        var fresh = holder.querySelector(".conv-head");
        if (!fresh) return;
        old.replaceWith(fresh);
        if (window.htmx) window.htmx.process(fresh);
      })
      .catch(function () { /* the controls appear on the next page */ });
  }
  document.body.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail && e.detail.elt;
    if (!form || form.id !== "rename-form" || !e.detail.successful) return;
    var name = (form.querySelector("input[name=title]").value || "").replace(/\s+/g, " ").trim();
    document.getElementById("conv-title").textContent = name || "Conversation";
  });
  function follow(turn, bubble) {
    var source = new EventSource(turn.events);
    current = { turnId: turn.turn_id, source: source, bubble: bubble };
    function end() { source.close(); current = null; busy(false); input.focus(); }
    source.addEventListener("delta", function (e) {
      var d = JSON.parse(e.data);
      setText(bubble, d.replace ? d.text : bubble.raw + d.text);
      scroll();
    });
    source.addEventListener("tool_call", function (e) { toolBlock(bubble, JSON.parse(e.data)); scroll(); });
    source.addEventListener("tool_result", function (e) { toolResult(bubble, JSON.parse(e.data)); scroll(); });
    source.addEventListener("media", function (e) {
      var d = JSON.parse(e.data);
      var url = pc.safeUrl ? pc.safeUrl(d.url) : null;
      var node = url && pc.mediaNode ? pc.mediaNode(url, d.kind) : null;
      if (node) bubble.media.appendChild(node);
    });
    source.addEventListener("done", function (e) {
      var d = JSON.parse(e.data);
      finish(bubble, d);
      if (d.session_id && d.session_id !== sessionId) {
        var heading = document.getElementById("conv-title");
        if (heading && !value("title")) {
          var first = (firstText || "Conversation").split("\n")[0].trim();
          heading.textContent = first.length > 60 ? first.slice(0, 57) + "…" : first;
        }
        sessionId = d.session_id;
        chat.dataset.session = sessionId;
        history.replaceState(null, "", base + "/discussion?session=" + encodeURIComponent(sessionId));
        refreshHead(sessionId);
      }
      refreshSessions(sessionId);
      end();
      scroll();
    });
    source.addEventListener("failed", function (e) {
      var d = JSON.parse(e.data);
      bubble.root.classList.remove("streaming");
      bubble.caret.remove();
      bubble.root.classList.add("failed");
      bubble.meta.appendChild(el("span", "error-kind", d.kind));
      bubble.text.appendChild(el("div", "alert bad", d.message));
      end();
    });
    source.addEventListener("cancelled", function () {
      bubble.root.classList.remove("streaming");
      bubble.caret.remove();
      bubble.meta.appendChild(el("span", "stopped", "stopped · nothing was saved"));
      end();
    });
  }
  function refusal(res) {
    var error = res.body && res.body.error;
    if (error && error.message) {
      var m = error.message.charAt(0).toUpperCase() + error.message.slice(1);
      return /[.!?)]$/.test(m) ? m : m + ".";
    }
    if (res.status === 401) return "Your login has ended: reload the page and log in again.";
    if (res.status === 413) return "The message is larger than this server takes (" + (totalMax ? mb(totalMax) + " MB" : res.raw.trim()) + "): remove an attachment or shorten the text.";
    return "The console refused the message (HTTP " + res.status + (res.raw.trim() ? ": " + res.raw.trim().slice(0, 200) : "") + ").";
  }
  function send() {
    if (current) return;
    var text = input.value;
    if (!text.trim() && !files.length) { showError("Write a message or attach a file."); return; }
    var model = value("model").trim();
    if (!model) { showError("Choose a model in Parameters."); return; }
    if (totalMax && attached() + new Blob([text, value("system")]).size > totalMax) {
      showError("This message and its attachments are larger than this server takes (" + mb(totalMax) + " MB): remove an attachment or shorten the text.");
      return;
    }
    showError("");
    var data = new FormData();
    data.append("message", text);
    data.append("model", model);
    data.append("session_id", sessionId);
    data.append("system", value("system"));
    data.append("temperature", value("temperature"));
    data.append("max_tokens", value("max_tokens"));
    data.append("title", value("title"));
    if (document.getElementById("tools").checked) data.append("tools", "1");
    var sent = files.slice();
    sent.forEach(function (file) { data.append("attachments", file, file.name); });
    busy(true);
    fetch(base + "/discussion/turns", { method: "POST", body: data, headers: { "X-CSRF-Token": csrf, "Accept": "application/json" } })
      .then(function (r) {
        // Errors may come as JSON from the console or as plain text from the server in front
        // of it (a body over its limit, an expired login): say what happened either way.
        return r.text().then(function (raw) {
          var body = null;
          try { body = JSON.parse(raw); } catch (e) { body = null; }
          return { ok: r.ok, status: r.status, body: body, raw: raw || "" };
        });
      })
      .then(function (res) {
        if (!res.ok || !res.body || !res.body.events) {
          busy(false);
          showError(refusal(res));
          return;
        }
        if (!sessionId) firstText = text || (sent[0] && sent[0].name) || "";
        userBubble(text, sent);
        input.value = "";
        files = []; drawFiles();
        var bubble = assistantBubble(model);
        scroll();
        follow(res.body, bubble);
      })
      .catch(function (err) { busy(false); showError("The console did not answer: " + err); });
  }
  form.addEventListener("submit", function (e) { e.preventDefault(); send(); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  stopButton.addEventListener("click", function () {
    if (!current) return;
    fetch(base + "/discussion/turns/" + current.turnId + "/cancel", { method: "POST", headers: { "X-CSRF-Token": csrf } });
  });
  var modelInput = document.getElementById("model");
  if (modelInput) {
    modelInput.addEventListener("input", function () {
      var name = modelInput.value.trim() || "a model";
      input.placeholder = "Message " + name + "…  (Enter to send, Shift+Enter for a new line; paste or drop images)";
    });
  }
  scroll();
})();
