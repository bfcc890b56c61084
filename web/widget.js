/* Botox patient assistant: the clinic website's chat widget.
 *
 * Embed with one tag (the assistant's address is taken from the tag's own src):
 *   <script src="https://assistant.example.org/webhooks/webchat/widget.js" defer></script>
 *
 * Talks to the assistant over Socket.IO (client served by the assistant: no CDN, works offline).
 * The conversation's session id and transcript live in sessionStorage, so a reload continues the
 * same conversation and shows its history; closing the tab forgets it on this device.
 * An escalation payload ({"type": "escalation", "tier", "reference"}) pins a banner above the
 * messages that later messages cannot scroll away.
 *
 * Language: the tag's data-lang, else the page's <html lang>, else English; it is sent with each
 * message (the conversation starts in it) and the widget's own labels follow it. When the
 * conversation turns to the other language (the patient writes in it), the server says so
 * ({"type": "language", "language"}) and the labels follow.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var server = new URL(script.src).origin;
  var STORE = "botox-assistant-chat";
  var state = load() || { sessionId: null, transcript: [], escalation: null, open: false };
  // The widget's own sentences by language, from the message catalogue (content/messages.yml): the
  // server puts them here when it serves this file (channels/web_chat.py).
  var TEXT = /*catalogue*/ {};
  function supported(code) {
    code = String(code || "").toLowerCase().split("-")[0];
    return TEXT[code] ? code : null;
  }
  state.lang = state.lang || supported(script.getAttribute("data-lang")) ||
    supported(document.documentElement.lang) || "en";
  var clinic = { clinic_name: "the clinic", clinic_phone: "", emergency_number: "911" };
  function say(key, values) {
    return ((TEXT[state.lang] || TEXT.en)[key] || "").replace(/\{(\w+)\}/g, function (whole, name) {
      return values && values[name] !== undefined ? values[name] : whole;
    });
  }
  var socket, ui, unsent = [];

  function load() {
    try { return JSON.parse(sessionStorage.getItem(STORE)); } catch (e) { return null; }
  }
  function save() {
    try { sessionStorage.setItem(STORE, JSON.stringify(state)); } catch (e) { /* private mode */ }
  }

  var CSS = [
    ".bx-launch{position:fixed;right:16px;bottom:16px;z-index:2147483000;background:#0b4f8a;color:#fff;",
    "border:0;border-radius:24px;padding:12px 20px;font:600 16px/1.2 system-ui,sans-serif;cursor:pointer}",
    ".bx-launch:focus-visible,.bx-panel button:focus-visible,.bx-panel textarea:focus-visible,.bx-panel a:focus-visible",
    "{outline:3px solid #f5a623;outline-offset:2px}",
    ".bx-panel{position:fixed;right:8px;bottom:72px;z-index:2147483000;width:min(380px,calc(100vw - 16px));",
    "height:min(560px,calc(100vh - 88px));display:flex;flex-direction:column;background:#fff;color:#1a1a1a;",
    "border:1px solid #767676;border-radius:12px;box-shadow:0 4px 24px rgba(0,0,0,.25);font:15px/1.45 system-ui,sans-serif}",
    ".bx-panel[hidden]{display:none}",
    ".bx-head{display:flex;align-items:center;justify-content:space-between;padding:10px 12px;background:#0b4f8a;",
    "color:#fff;border-radius:12px 12px 0 0}",
    ".bx-head h2{margin:0;font-size:16px}",
    ".bx-close{background:transparent;color:#fff;border:0;font-size:22px;line-height:1;cursor:pointer;padding:4px 8px}",
    ".bx-banner{padding:10px 12px;font-weight:600;border-bottom:2px solid #7a0000}",
    ".bx-banner[hidden]{display:none}",
    ".bx-banner.bx-emergency{background:#b00020;color:#fff}",
    ".bx-banner.bx-urgent{background:#ffe08a;color:#1a1a1a;border-color:#8a6d00}",
    ".bx-banner a{display:inline-block;margin-top:6px;padding:8px 14px;border-radius:6px;font-size:17px;",
    "text-decoration:none;background:#fff;color:#7a0000}",
    ".bx-urgent a{background:#1a1a1a;color:#fff}",
    ".bx-log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px}",
    ".bx-msg{max-width:85%;padding:8px 12px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".bx-bot{align-self:flex-start;background:#eef1f5}",
    ".bx-user{align-self:flex-end;background:#0b4f8a;color:#fff}",
    ".bx-msg a{color:inherit;text-decoration:underline}",
    ".bx-choices{display:flex;flex-wrap:wrap;gap:6px}",
    ".bx-choices button{border:2px solid #0b4f8a;background:#fff;color:#0b4f8a;border-radius:16px;",
    "padding:6px 12px;font:600 14px system-ui,sans-serif;cursor:pointer}",
    ".bx-form{display:flex;gap:8px;padding:10px;border-top:1px solid #ccc}",
    ".bx-form textarea{flex:1;resize:none;font:15px system-ui,sans-serif;padding:8px;border:1px solid #767676;border-radius:8px}",
    ".bx-form button{background:#0b4f8a;color:#fff;border:0;border-radius:8px;padding:0 16px;font:600 15px system-ui,sans-serif;cursor:pointer}",
    ".bx-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    ".bx-status{font-size:13px;color:#555;padding:0 12px}",
  ].join("");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  // Text is set as text, never as HTML; only http(s) URLs and phone links become anchors.
  function withLinks(node, text) {
    var pattern = /(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)])/g, last = 0, match;
    while ((match = pattern.exec(text))) {
      node.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = el("a", { href: match[1], target: "_blank", rel: "noopener noreferrer" }, match[1]);
      node.appendChild(a);
      last = match.index + match[1].length;
    }
    node.appendChild(document.createTextNode(text.slice(last)));
    return node;
  }

  function build() {
    var style = el("style"); style.textContent = CSS; document.head.appendChild(style);
    var launch = el("button", { "class": "bx-launch", type: "button", "aria-expanded": "false",
      "aria-controls": "bx-panel" });
    var panel = el("section", { id: "bx-panel", "class": "bx-panel", role: "dialog",
      "aria-labelledby": "bx-title", hidden: "" });
    var head = el("div", { "class": "bx-head" });
    var title = el("h2", { id: "bx-title" });
    head.appendChild(title);
    var close = el("button", { "class": "bx-close", type: "button" }, "\u00d7");
    head.appendChild(close);
    var banner = el("div", { "class": "bx-banner", role: "alert", hidden: "" });
    var log = el("div", { "class": "bx-log", role: "log", "aria-live": "polite", tabindex: "0" });
    var status = el("div", { "class": "bx-status", "aria-live": "polite" });
    var form = el("form", { "class": "bx-form" });
    var label = el("label", { "for": "bx-input", "class": "bx-sr" });
    var input = el("textarea", { id: "bx-input", rows: "2", maxlength: "5000" });
    var send = el("button", { type: "submit" });
    form.appendChild(label); form.appendChild(input); form.appendChild(send);
    [head, banner, log, status, form].forEach(function (n) { panel.appendChild(n); });
    document.body.appendChild(panel); document.body.appendChild(launch);

    launch.addEventListener("click", function () { setOpen(panel.hidden); });
    close.addEventListener("click", function () { setOpen(false); });
    panel.addEventListener("keydown", function (e) { if (e.key === "Escape") setOpen(false); });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = input.value.trim();
      if (!text) return;
      input.value = "";
      userSays(text, text);
    });
    return { launch: launch, panel: panel, banner: banner, log: log, status: status, input: input,
      title: title, close: close, label: label, send: send };
  }

  // The labels in the conversation's language (again when it changes).
  function labels() {
    ui.panel.setAttribute("lang", state.lang);
    ui.launch.textContent = say("launch");
    ui.title.textContent = say("title");
    ui.close.setAttribute("aria-label", say("close"));
    ui.log.setAttribute("aria-label", say("log"));
    ui.label.textContent = say("input_label");
    ui.input.setAttribute("placeholder", say("placeholder"));
    ui.send.textContent = say("send");
    ui.log.querySelectorAll(".bx-choices").forEach(function (g) { g.setAttribute("aria-label", say("choices")); });
  }

  function setOpen(open) {
    ui.panel.hidden = !open;
    ui.launch.setAttribute("aria-expanded", String(open));
    state.open = open; save();
    if (open) { ui.input.focus(); ui.log.scrollTop = ui.log.scrollHeight; } else { ui.launch.focus(); }
  }

  function render(entry) {
    if (entry.from === "user") {
      ui.log.appendChild(el("div", { "class": "bx-msg bx-user" }, entry.text));
    } else {
      if (entry.text) ui.log.appendChild(withLinks(el("div", { "class": "bx-msg bx-bot" }), entry.text));
      if (entry.buttons && entry.buttons.length) {
        var group = el("div", { "class": "bx-choices", role: "group", "aria-label": say("choices") });
        entry.buttons.forEach(function (b) {
          var button = el("button", { type: "button" }, b.title);
          button.addEventListener("click", function () {
            userSays(b.title, b.payload || b.title);
            ui.input.focus();  // the conversation goes on from the input, not from a spent button
          });
          group.appendChild(button);
        });
        ui.log.appendChild(group);
      }
    }
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function showBanner() {
    var esc = state.escalation;
    if (!esc) return;
    var emergency = esc.tier === "emergency";
    var number = emergency ? clinic.emergency_number : clinic.clinic_phone;
    ui.banner.className = "bx-banner " + (emergency ? "bx-emergency" : "bx-urgent");
    ui.banner.textContent = say(emergency ? "banner_emergency" : "banner_urgent", clinic);
    var call = el("a", { href: "tel:" + number.replace(/[^0-9+]/g, "") }, say("call", { number: number }));
    ui.banner.appendChild(call);
    ui.banner.appendChild(el("div", {}, say("reference", { reference: esc.reference })));
    ui.banner.hidden = false;
  }

  function record(entry) { state.transcript.push(entry); save(); render(entry); }

  function userSays(shown, sent) {
    record({ from: "user", text: shown });
    if (socket && socket.connected && state.sessionId) {
      socket.emit("user_uttered", { message: sent, metadata: { lang: state.lang } });
    } else {  // sent after the session is confirmed, in order
      unsent.push(sent);
      ui.status.textContent = say("connecting");
    }
  }

  function connect() {
    // Long-polling only: python-socketio's websocket transport under Rasa's Sanic 21 answers with
    // invalid frames, and a failed upgrade attempt only adds console noise.
    socket = window.io(server, { path: "/socket.io", transports: ["polling"], upgrade: false });
    socket.on("connect", function () {
      socket.emit("session_request", { session_id: state.sessionId });
    });
    socket.on("session_confirm", function (id) {
      state.sessionId = id; save();
      ui.status.textContent = "";
      while (unsent.length) socket.emit("user_uttered", { message: unsent.shift(), metadata: { lang: state.lang } });
    });
    socket.on("bot_uttered", function (msg) {
      var custom = msg.custom || (msg.attachment && msg.attachment.payload);
      if (custom && custom.type === "language" && supported(custom.language)) {
        state.lang = custom.language; save(); labels(); showBanner();
      }
      if (custom && custom.type === "escalation") {
        state.escalation = { tier: custom.tier, reference: custom.reference }; save(); showBanner();
      }
      if (msg.text || (msg.quick_replies || msg.buttons)) {
        record({ from: "bot", text: msg.text || "", buttons: msg.quick_replies || msg.buttons || [] });
      }
      if (custom && custom.type === "conversation_deleted") {
        // The patient had the conversation deleted: forget it in this browser too, all but the
        // confirmation. The banner stays: it holds instructions and a reference, no message text.
        state.transcript = state.transcript.slice(-1); save();
        ui.log.textContent = "";
        state.transcript.forEach(render);
      }
    });
    socket.on("error_message", function (e) { ui.status.textContent = e.message; });
    socket.on("connect_error", function () {
      ui.status.textContent = say("unreachable", { clinic_phone: clinic.clinic_phone || say("the_clinic"),
        emergency_number: clinic.emergency_number });
    });
  }

  function start() {
    ui = build();
    labels();
    state.transcript.forEach(render);
    fetch(server + "/webhooks/webchat/clinic").then(function (r) { return r.json(); })
      .then(function (c) { clinic = c; showBanner(); }).catch(function () { showBanner(); });
    var loader = el("script", { src: server + "/webhooks/webchat/socket.io.min.js" });
    loader.onload = connect;
    document.head.appendChild(loader);
    if (state.open) setOpen(true);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
