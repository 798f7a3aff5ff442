/* Hubbub shell: keyboard shortcuts, the live event stream, small UI helpers.
   No inline scripts anywhere: the content security policy forbids them. */
(function () {
  "use strict";

  var body = document.body;
  body.classList.add("js");

  /* ---------- keyboard shortcuts ---------- */
  // Sequences such as "g i" come from the nav links' data-shortcut attributes,
  // so the list in the ? dialog and the bindings can never disagree.
  var SEQUENCE_TIMEOUT_MS = 1200;
  var pending = "";
  var pendingTimer = null;

  function isTyping(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function shortcutTargets() {
    var map = {};
    document.querySelectorAll("[data-shortcut]").forEach(function (el) {
      map[el.getAttribute("data-shortcut")] = el;
    });
    return map;
  }

  function openDialog(id) {
    var dialog = document.getElementById(id);
    if (dialog && !dialog.open) dialog.showModal();
  }

  function focusFirstField() {
    var field = document.querySelector("main input[type=search], main input:not([type=hidden]), main textarea");
    if (field) field.focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (isTyping(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "?") {
      event.preventDefault();
      openDialog("shortcuts-dialog");
      return;
    }
    if (event.key === "/") {
      event.preventDefault();
      focusFirstField();
      return;
    }
    // On a detail page, Esc goes back to the list its [data-back] link names;
    // with a dialog open, Esc is the dialog's.
    if (event.key === "Escape") {
      var back = document.querySelector("main [data-back]");
      if (back && !document.querySelector("dialog[open]")) {
        event.preventDefault();
        back.click();
      }
      return;
    }
    if (event.key.length !== 1) return;
    var sequence = pending ? pending + " " + event.key : event.key;
    var targets = shortcutTargets();
    if (targets[sequence]) {
      event.preventDefault();
      pending = "";
      targets[sequence].click();
      return;
    }
    var isPrefix = Object.keys(targets).some(function (keys) { return keys.indexOf(sequence + " ") === 0; });
    pending = isPrefix ? sequence : "";
    clearTimeout(pendingTimer);
    if (pending) pendingTimer = setTimeout(function () { pending = ""; }, SEQUENCE_TIMEOUT_MS);
  });

  document.addEventListener("click", function (event) {
    var trigger = event.target.closest("[data-action]");
    if (!trigger) return;
    var action = trigger.getAttribute("data-action");
    if (action === "show-shortcuts") openDialog("shortcuts-dialog");
    if (action === "close-dialog") trigger.closest("dialog").close();
    if (action === "toggle-nav") {
      var open = body.classList.toggle("nav-open");
      document.querySelectorAll("[data-action=toggle-nav]").forEach(function (el) {
        if (el.hasAttribute("aria-expanded")) el.setAttribute("aria-expanded", String(open));
        if (el.classList.contains("scrim")) el.hidden = !open;
      });
    }
  });

  // A <select data-autosubmit> saves as soon as it changes; its button is
  // only there for browsers without JavaScript.
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) event.target.select();
  });

  /* ---------- the live stream: one EventSource per tab ---------- */
  // Each event becomes a DOM event "hubbub:<kind>" on <body>; pages listen
  // with hx-trigger="hubbub:<kind> from:body" or addEventListener.
  var streamUrl = body.getAttribute("data-stream-url");
  var liveStatus = document.getElementById("live-status");
  var me = body.getAttribute("data-user-id");

  function showLive(text) {
    if (!liveStatus) return;
    liveStatus.textContent = text;
    liveStatus.hidden = !text;
  }

  if (streamUrl && window.EventSource) {
    var source = new EventSource(streamUrl);
    body.setAttribute("data-stream", "connecting");
    source.onopen = function () {
      body.setAttribute("data-stream", "open");
      showLive("");
    };
    source.onerror = function () {
      body.setAttribute("data-stream", "reconnecting");
      showLive("Reconnecting to live updates…");
    };
    source.onmessage = function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (error) { return; }
      body.dispatchEvent(new CustomEvent("hubbub:" + event.kind, { detail: event.payload }));
    };
    window.addEventListener("pagehide", function () { source.close(); });
  }

  // Keep this tab's own status menu in step with changes made in other tabs.
  body.addEventListener("hubbub:agent_status_changed", function (event) {
    if (String(event.detail.user_id) !== me) return;
    var select = document.getElementById("status-select");
    var dot = document.querySelector("#status-menu .status-dot");
    if (select) select.value = event.detail.status;
    if (dot) dot.className = "status-dot status-" + event.detail.status;
  });

  /* ---------- htmx niceties ---------- */
  document.addEventListener("htmx:beforeRequest", function (event) {
    event.target.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    event.target.removeAttribute("aria-busy");
    if (event.detail.failed) showLive("That did not work. Check your connection and try again.");
  });
})();
