// The open inbox's live updates (inbox/live.py): cards arrive and change without a reload, a new
// escalation is highlighted, flashes the tab's title and, once sound is on, beeps (Web Audio: no
// audio file, and browsers allow it only after a click on the page).
(function () {
  "use strict";
  var list = document.getElementById("escalations");
  if (!list) return;
  var status = document.getElementById("live-status");
  var empty = document.getElementById("empty");
  var soundButton = document.getElementById("sound");
  var baseTitle = document.title;
  var unseen = 0;
  var flashing = null;
  var audio = null;
  // Beeps per tier: [frequency Hz, how many]. An emergency is the most insistent.
  var BEEPS = { emergency: [880, 3], urgent: [660, 2], handoff: [520, 1] };

  function setStatus(text, state) {
    status.textContent = text;
    status.dataset.state = state;
  }

  function fromHtml(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  // What a clinician is typing into a card survives the card being re-rendered.
  function keepTyping(from, to) {
    var focused = from.contains(document.activeElement) ? document.activeElement.id : null;
    from.querySelectorAll("textarea, input[name], select").forEach(function (field) {
      var twin = field.id && to.querySelector("#" + CSS.escape(field.id));
      if (twin && field.type !== "hidden") twin.value = field.value;
    });
    from.querySelectorAll("details[open]").forEach(function (details) {
      var index = Array.prototype.indexOf.call(from.querySelectorAll("details"), details);
      var twin = to.querySelectorAll("details")[index];
      if (twin) twin.open = true;
    });
    return focused;
  }

  function apply(update) {
    var arrived = [];
    Object.keys(update.cards).forEach(function (id) {
      var card = update.cards[id];
      var existing = document.getElementById(id);
      if (existing && existing.dataset.version === card.version) return;
      var fresh = fromHtml(card.html);
      if (existing) {
        var focused = keepTyping(existing, fresh);
        existing.replaceWith(fresh);
        fresh.classList.add("changed");
        if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
      } else {
        fresh.classList.add("arrived");
        list.appendChild(fresh);
        arrived.push(fresh);
      }
    });
    // The server's order; cards it no longer lists (resolved long ago) go.
    var wanted = update.order.map(function (id) { return document.getElementById(id); }).filter(Boolean);
    var current = Array.prototype.slice.call(list.children);
    current.forEach(function (card) { if (wanted.indexOf(card) < 0) card.remove(); });
    var inOrder = wanted.every(function (card, i) { return list.children[i] === card; });
    if (!inOrder) wanted.forEach(function (card) { list.appendChild(card); });
    empty.hidden = wanted.length > 0;
    if (arrived.length) announce(arrived);
    showWaiting();
  }

  function announce(cards) {
    unseen += cards.length;
    var tiers = cards.map(function (card) { return card.dataset.tier; });
    var loudest = ["emergency", "urgent", "handoff"].filter(function (tier) { return tiers.indexOf(tier) >= 0; })[0];
    beep(BEEPS[loudest] || BEEPS.urgent);
    if (!flashing) {
      var on = false;
      flashing = setInterval(function () {
        on = !on;
        document.title = on ? "(" + unseen + ") New escalation · " + baseTitle : baseTitle;
      }, 800);
    }
  }

  // Using the page again ends the cue: the title stops flashing and the new cards lose their mark.
  function seen() {
    if (!flashing || document.hidden) return;
    clearInterval(flashing);
    flashing = null;
    unseen = 0;
    document.title = baseTitle;
    list.querySelectorAll(".arrived").forEach(function (card) { card.classList.remove("arrived"); });
  }

  function beep(pattern) {
    if (!audio || audio.state !== "running") return;
    for (var i = 0; i < pattern[1]; i++) {
      var start = audio.currentTime + i * 0.25;
      var tone = audio.createOscillator();
      var gain = audio.createGain();
      tone.frequency.value = pattern[0];
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.3, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.18);
      tone.connect(gain).connect(audio.destination);
      tone.start(start);
      tone.stop(start + 0.2);
    }
  }

  function setSound(on) {
    if (on && !audio) audio = new (window.AudioContext || window.webkitAudioContext)();
    if (on && audio.state === "suspended") audio.resume();
    if (!on && audio) audio.suspend();
    soundButton.setAttribute("aria-pressed", String(on));
    soundButton.textContent = on ? "Sound alerts: on" : "Sound alerts: off";
    localStorage.setItem("inbox-sound", on ? "on" : "off");
  }

  soundButton.addEventListener("click", function () {
    setSound(soundButton.getAttribute("aria-pressed") !== "true");
    if (soundButton.getAttribute("aria-pressed") === "true") beep(BEEPS.handoff);
  });
  // Sound that was on stays on, from the first click or key on the page (a browser rule).
  if (localStorage.getItem("inbox-sound") === "on") {
    soundButton.textContent = "Sound alerts: on (click the page to allow)";
    var allow = function () {
      setSound(true);
      document.removeEventListener("pointerdown", allow);
      document.removeEventListener("keydown", allow);
    };
    document.addEventListener("pointerdown", allow);
    document.addEventListener("keydown", allow);
  }

  // How long a new escalation has waited, kept current.
  function showWaiting() {
    list.querySelectorAll(".waiting[data-since]").forEach(function (span) {
      var minutes = Math.floor((Date.now() - Date.parse(span.dataset.since)) / 60000);
      span.textContent = minutes < 1 ? "waiting under a minute" : "waiting " + minutes + " min";
    });
  }

  ["pointerdown", "keydown", "focus", "visibilitychange"].forEach(function (name) {
    (name === "focus" ? window : document).addEventListener(name, seen);
  });
  list.addEventListener("animationend", function (event) {
    event.target.classList.remove("changed");
  });
  setInterval(showWaiting, 30000);
  showWaiting();

  var source = new EventSource(list.dataset.events);
  source.addEventListener("open", function () { setStatus("Live", "live"); });
  source.addEventListener("inbox", function (event) { apply(JSON.parse(event.data)); });
  source.addEventListener("error", function () {
    // The browser reconnects by itself; a refusal (the session ended) closes the source for good.
    if (source.readyState === EventSource.CLOSED) setStatus("Live updates stopped: reload the page", "stopped");
    else setStatus("Reconnecting…", "reconnecting");
  });
})();
