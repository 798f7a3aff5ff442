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

  // A live refresh can take the focus from the composer's text box: to keep the
  // preserved composer, htmx moves it out of the page and back, and browsers without
  // Element.moveBefore drop the focus on the way. Give it back once the swap settles,
  // so the agent's next keys go where they were going; an Esc pressed in between
  // still means "leave the text box", never "leave the page".
  var focusBeforeSwap = null;
  document.addEventListener("htmx:beforeSwap", function () {
    var active = document.activeElement;
    if (isTyping(active) && active.closest("[hx-preserve]")) focusBeforeSwap = active;
  });
  document.addEventListener("htmx:afterSettle", function () {
    var field = focusBeforeSwap;
    focusBeforeSwap = null;
    if (!field || !field.isConnected || field.closest("[hidden]")) return;
    if (document.activeElement && document.activeElement !== body) return;
    field.focus({ preventScroll: true });
  });
  // A click elsewhere is the agent moving on: nothing to give back then.
  document.addEventListener("pointerdown", function () { focusBeforeSwap = null; }, true);
  function focusLostToSwap() {
    return focusBeforeSwap !== null && (!document.activeElement || document.activeElement === body);
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (isTyping(event.target)) {
      if (event.key === "Escape") {
        focusBeforeSwap = null;
        event.target.blur();
      }
      return;
    }
    if (event.key === "Escape" && focusLostToSwap()) {
      focusBeforeSwap = null;
      event.preventDefault();
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
      // Fields get the focus (a note box, the assignee menu); the rest a click.
      if (isTyping(targets[sequence])) targets[sequence].focus();
      else targets[sequence].click();
      return;
    }
    if (event.key === "j" || event.key === "k") {
      if (moveInList(event.key === "j" ? 1 : -1)) event.preventDefault();
      return;
    }
    var isPrefix = Object.keys(targets).some(function (keys) { return keys.indexOf(sequence + " ") === 0; });
    pending = isPrefix ? sequence : "";
    clearTimeout(pendingTimer);
    if (pending) pendingTimer = setTimeout(function () { pending = ""; }, SEQUENCE_TIMEOUT_MS);
  });

  /* ---------- j / k in a list (the inbox) ---------- */
  // The chosen row is remembered by id, so a live refresh of the list keeps it.
  var chosenRow = null;

  function listRows() {
    var list = document.querySelector("[data-keyboard-list]");
    return list ? Array.prototype.slice.call(list.querySelectorAll("li[data-conversation-id]")) : [];
  }

  function chooseRow(row) {
    listRows().forEach(function (each) { each.classList.remove("is-chosen"); });
    if (!row) return;
    row.classList.add("is-chosen");
    chosenRow = row.getAttribute("data-conversation-id");
    var link = row.querySelector("a");
    if (link) link.focus();
  }

  function moveInList(step) {
    var rows = listRows();
    if (!rows.length) return false;
    var index = rows.findIndex(function (row) { return row.getAttribute("data-conversation-id") === chosenRow; });
    index = index === -1 ? (step > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, index + step));
    chooseRow(rows[index]);
    return true;
  }

  // New forms that arrive with a live refresh get their saved drafts back.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target && event.target.querySelectorAll) restoreDrafts(event.target.parentNode || document);
  });

  document.addEventListener("htmx:afterSwap", function () {
    if (!chosenRow) return;
    var row = document.querySelector('[data-keyboard-list] li[data-conversation-id="' + chosenRow + '"]');
    if (row && !isTyping(document.activeElement)) chooseRow(row);
  });

  /* ---------- drafts: nothing typed is lost ---------- */
  // A form with data-draft-key keeps its text fields in localStorage until it is sent.
  function draftStore() {
    try { return window.localStorage; } catch (error) { return null; }
  }

  function restoreDrafts(root) {
    var store = draftStore();
    if (!store) return;
    root.querySelectorAll("form[data-draft-key]").forEach(function (form) {
      var saved = store.getItem("hubbub-draft:" + form.getAttribute("data-draft-key"));
      if (!saved) return;
      try { saved = JSON.parse(saved); } catch (error) { return; }
      Object.keys(saved).forEach(function (name) {
        var field = form.elements[name];
        if (field && "value" in field && !field.value) {
          field.value = saved[name];
          field.dispatchEvent(new Event("input", { bubbles: true }));
        }
      });
    });
  }

  document.addEventListener("input", function (event) {
    var form = event.target.form;
    var store = draftStore();
    if (!form || !store || !form.hasAttribute("data-draft-key")) return;
    var values = {};
    Array.prototype.forEach.call(form.elements, function (field) {
      if (field.name && (field.tagName === "TEXTAREA" || field.type === "text")) values[field.name] = field.value;
    });
    store.setItem("hubbub-draft:" + form.getAttribute("data-draft-key"), JSON.stringify(values));
  });

  // "Send anyway" after the server warned that the conversation is someone else's:
  // the same form again, with the confirmation.
  var lastComposerForm = null;
  document.addEventListener("submit", function (event) {
    if (event.target.closest && event.target.closest("[data-composer]")) lastComposerForm = event.target;
  }, true);
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest("[data-confirm-send]") || !lastComposerForm) return;
    var confirm = lastComposerForm.querySelector("input[name=confirm_not_mine]");
    if (!confirm) return;
    confirm.value = "1";
    lastComposerForm.requestSubmit();
    confirm.value = "";
  });

  document.addEventListener("care-action-done", function (event) {
    var form = event.target.closest && event.target.closest("form[data-draft-key]");
    if (!form) return;
    var store = draftStore();
    if (store) store.removeItem("hubbub-draft:" + form.getAttribute("data-draft-key"));
    form.reset();
    form.querySelectorAll("textarea").forEach(function (field) { field.dispatchEvent(new Event("input", { bubbles: true })); });
  });

  // Ctrl+Enter (or Cmd+Enter) sends the form a text box belongs to.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.tagName === "TEXTAREA" && event.target.form) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  });

  restoreDrafts(document);

  /* ---------- the composer: tabs and the live character counter ---------- */
  function showComposerTab(name) {
    var tabs = document.querySelectorAll("[data-composer-tab]");
    if (!tabs.length) return false;
    tabs.forEach(function (tab) {
      var chosen = tab.getAttribute("data-composer-tab") === name;
      tab.setAttribute("aria-selected", String(chosen));
      var pane = document.getElementById(tab.getAttribute("aria-controls"));
      if (pane) pane.hidden = !chosen;
      if (chosen && pane) {
        var field = pane.querySelector("textarea");
        if (field) field.focus();
      }
    });
    return true;
  }

  document.addEventListener("click", function (event) {
    var tab = event.target.closest && event.target.closest("[data-composer-tab]");
    if (tab) showComposerTab(tab.getAttribute("data-composer-tab"));
    var fill = event.target.closest && event.target.closest("[data-fill-composer]");
    if (fill && showComposerTab("reply")) {
      var field = document.getElementById("reply-body");
      if (field) {
        field.value = fill.getAttribute("data-fill-composer");
        field.dispatchEvent(new Event("input", { bubbles: true }));
        field.focus();
      }
    }
  });

  // A macro goes into the reply box, written out for this customer, to be
  // made personal before sending; the form remembers which macro it was.
  document.addEventListener("change", function (event) {
    var pick = event.target;
    if (!pick.matches || !pick.matches("[data-macro-url]") || !pick.value) return;
    var url = pick.getAttribute("data-macro-url").replace(/\/0\/$/, "/" + encodeURIComponent(pick.value) + "/");
    var chosen = pick.value;
    fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) throw new Error(response.status);
      return response.text();
    }).then(function (text) {
      showComposerTab("reply");
      var field = document.getElementById("reply-body");
      if (!field) return;
      field.value = text;
      var macroField = field.form.querySelector("[data-macro-field]");
      if (macroField) macroField.value = chosen;
      field.dispatchEvent(new Event("input", { bubbles: true }));
      field.focus();
      pick.value = "";
    }).catch(function () { showLive("That macro could not be loaded. Try again."); });
  });

  // As the platform counts: characters (code points), links at a fixed length on
  // Mastodon and X, and the agent's signature on its own line.
  var LINK_LENGTH = { mastodon: 23, x: 23, twitter: 23 };
  function platformLength(platform, text) {
    var fixed = LINK_LENGTH[platform];
    var links = fixed ? text.match(/https?:\/\/\S+/g) || [] : [];
    if (fixed) text = text.replace(/https?:\/\/\S+/g, "");
    return Array.from(text).length + (fixed || 0) * links.length;
  }

  function updateCounter(field) {
    var counter = document.getElementById(field.getAttribute("data-counter"));
    var limit = parseInt(field.getAttribute("data-limit") || "0", 10);
    if (!counter || !limit) return;
    var body = field.value.trim();
    var signature = field.getAttribute("data-signature") || "";
    var text = signature && body && body.slice(-signature.length) !== signature ? body + "\n" + signature : body;
    var used = platformLength(field.getAttribute("data-platform") || "", text);
    counter.textContent = used + " / " + limit;
    counter.classList.toggle("is-over", used > limit);
    counter.classList.toggle("is-near", used <= limit && used > limit - 20);
    counter.setAttribute("title", used > limit ? (used - limit) + " over the limit" : (limit - used) + " left");
  }

  document.addEventListener("input", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-counter")) updateCounter(event.target);
  });
  document.querySelectorAll("[data-counter]").forEach(updateCounter);

  document.addEventListener("click", function (event) {
    var trigger = event.target.closest("[data-action]");
    if (!trigger) return;
    var action = trigger.getAttribute("data-action");
    if (action === "show-shortcuts") openDialog("shortcuts-dialog");
    if (action === "close-dialog") trigger.closest("dialog").close();
    if (action === "open-dialog") openDialog(trigger.getAttribute("aria-controls"));
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

  /* ---------- live inbox and conversation pages ---------- */
  // htmx's own event filters need eval, which the policy forbids; this
  // routes care events to the parts of the page they concern instead.
  var inboxRefreshTimer = null;
  function refreshInbox() {
    clearTimeout(inboxRefreshTimer);
    inboxRefreshTimer = setTimeout(function () {
      var inbox = document.querySelector("[data-live-inbox]");
      if (inbox && window.htmx) window.htmx.trigger(inbox, "inbox-refresh");
    }, 250);
  }
  ["conversations_arrived", "conversation_opened", "conversation_changed", "label_corrected"].forEach(function (kind) {
    body.addEventListener("hubbub:" + kind, refreshInbox);
  });
  function typingInRefreshedPart(page) {
    var active = document.activeElement;
    return page.contains(active) && isTyping(active) && !active.closest("[hx-preserve]");
  }
  function refreshConversation(page) {
    // Someone typing in the side panel keeps what they typed: refresh when they leave
    // the field. (The composer is preserved across refreshes: typing there is safe.)
    if (typingInRefreshedPart(page)) {
      page.setAttribute("data-stale", "true");
      return;
    }
    if (window.htmx) window.htmx.trigger(page, "conversation-refresh");
  }
  body.addEventListener("hubbub:conversation_changed", function (event) {
    var page = document.querySelector("[data-live-conversation]");
    if (!page || String(event.detail.conversation_id) !== page.getAttribute("data-live-conversation")) return;
    refreshConversation(page);
  });
  // The customer's next post joins the open conversation: it shows without a reload.
  body.addEventListener("hubbub:conversations_arrived", function (event) {
    var page = document.querySelector("[data-live-conversation]");
    var ids = (event.detail && event.detail.conversation_ids) || [];
    if (!page || ids.map(String).indexOf(page.getAttribute("data-live-conversation")) === -1) return;
    refreshConversation(page);
  });
  document.addEventListener("focusout", function (event) {
    var page = document.querySelector("[data-live-conversation][data-stale]");
    if (!page || !page.contains(event.target)) return;
    setTimeout(function () {
      if (typingInRefreshedPart(page)) return;
      page.removeAttribute("data-stale");
      if (window.htmx) window.htmx.trigger(page, "conversation-refresh");
    }, 0);
  });

  /* ---------- presence on a conversation ---------- */
  // Tell the others "viewing" on open and every 20 s, "typing" while writing to
  // the customer (not for notes), and "left" when the page goes away.
  var presenceBox = document.querySelector("[data-presence]");
  var csrfToken = (function () {
    try { return JSON.parse(body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; } catch (error) { return ""; }
  })();
  if (presenceBox) {
    var presenceUrl = "/inbox/conversations/" + encodeURIComponent(presenceBox.getAttribute("data-presence")) + "/presence/";
    var presenceState = "";
    var typingTimer = null;
    var reportPresence = function (state, force) {
      if (state === presenceState && !force) return;
      presenceState = state;
      var form = new FormData();
      form.append("state", state);
      form.append("csrfmiddlewaretoken", csrfToken);
      if (state === "left" && navigator.sendBeacon) { navigator.sendBeacon(presenceUrl, form); return; }
      fetch(presenceUrl, { method: "POST", body: form, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken } }).catch(function () {});
    };
    reportPresence("viewing", true);
    setInterval(function () { if (!document.hidden) reportPresence(presenceState || "viewing", true); }, 20000);
    document.addEventListener("input", function (event) {
      if (!event.target.closest || !event.target.closest("#pane-reply, #pane-private, [data-direct-pane]")) return;
      reportPresence("typing");
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { reportPresence("viewing"); }, 6000);
    });
    window.addEventListener("pagehide", function () { reportPresence("left", true); });
    body.addEventListener("hubbub:presence_changed", function (event) {
      if (String(event.detail.user_id) === me) return;
      if (String(event.detail.conversation_id) !== presenceBox.getAttribute("data-presence")) return;
      var box = document.querySelector("[data-presence]");
      if (box && window.htmx) window.htmx.trigger(box, "presence-refresh");
    });
  }

  // A department's handoff queue follows its handoffs.
  body.addEventListener("hubbub:handoff_changed", function () {
    var queue = document.querySelector("[data-live-handoffs]");
    if (queue && window.htmx) window.htmx.trigger(queue, "handoffs-refresh");
  });

  // The approval queue follows every change of a message, and what is said to me.
  ["conversation_changed", "notification_created"].forEach(function (kind) {
    body.addEventListener("hubbub:" + kind, function () {
      var queue = document.querySelector("[data-live-approvals]");
      if (queue && window.htmx) window.htmx.trigger(queue, "approvals-refresh");
    });
  });

  // Something for me (an @mention, an approval's outcome): say it, with a link.
  var toasts = document.getElementById("toasts");
  body.addEventListener("hubbub:notification_created", function (event) {
    if (!toasts) return;
    var toast = document.createElement("a");
    toast.className = "toast";
    toast.href = "/inbox/conversations/" + encodeURIComponent(event.detail.conversation_id) + "/";
    toast.textContent = event.detail.text;  // text, never HTML
    toasts.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 8000);
  });

  // Keep this tab's own status menu in step with changes made in other tabs.
  body.addEventListener("hubbub:agent_status_changed", function (event) {
    if (String(event.detail.user_id) !== me) return;
    var select = document.getElementById("status-select");
    var dot = document.querySelector("#status-menu .status-dot");
    if (select) select.value = event.detail.status;
    if (dot) dot.className = "status-dot status-" + event.detail.status;
  });

  /* ---------- forms ---------- */
  // A source's form shows the fields of the chosen mode only.
  function showModeFields(select) {
    var form = select.form;
    if (!form) return;
    form.querySelectorAll("[data-modes]").forEach(function (field) {
      field.hidden = field.getAttribute("data-modes").split(" ").indexOf(select.value) === -1;
    });
  }
  document.querySelectorAll("[data-mode-select]").forEach(showModeFields);
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-mode-select]")) showModeFields(event.target);
  });

  // Forms that destroy something ask first.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  /* ---------- htmx niceties ---------- */
  document.addEventListener("htmx:beforeRequest", function (event) {
    event.target.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    event.target.removeAttribute("aria-busy");
    if (event.detail.failed) showLive("That did not work. Check your connection and try again.");
  });
})();
