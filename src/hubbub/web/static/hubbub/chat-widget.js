/* Hubbub web chat: the one script a brand puts on its own site.
   No framework and no build step, so a brand can read what it embeds. Everything lives in
   an open shadow root: the brand's CSS cannot break the widget and ours cannot leak out.
   Every piece of text from the server goes in as text (bodies are written by strangers),
   and the DOM is built with DOM APIs only, so pages with Trusted Types still work. */
(function () {
  "use strict";

  if (window.HubbubChat) return;  // embedded twice: the first copy wins

  // document.currentScript is only set while this runs for the first time: read it now.
  var script = document.currentScript || findOwnScript();
  if (!script || !script.getAttribute("data-widget")) return;

  var API_ORIGIN = new URL(script.src, location.href).origin;
  var KEY = script.getAttribute("data-widget");
  var BASE = API_ORIGIN + "/chat/" + encodeURIComponent(KEY);
  var TITLE = script.getAttribute("data-title") || "Chat with us";
  var POSITION = script.getAttribute("data-position") === "left" ? "left" : "right";
  var TOKEN_KEY = "hubbub-chat:" + KEY;
  var SEEN_KEY = TOKEN_KEY + ":seen";
  var MAX_LENGTH = 5000, COUNTER_FROM = 4500;
  var RUN_GAP_MS = 5 * 60 * 1000;  // messages further apart start a new run with its own time
  var NEAR_BOTTOM_PX = 80;
  var STREAM_FAILURES_BEFORE_POLLING = 3, MAX_BACKOFF_MS = 30000;
  var POLL_OPEN_MS = 5000, POLL_CLOSED_MS = 30000;

  function findOwnScript() {
    var scripts = document.querySelectorAll("script[data-widget]");
    for (var i = 0; i < scripts.length; i++) {
      try {
        if (new URL(scripts[i].src, location.href).pathname.slice(-"chat-widget.js".length) === "chat-widget.js") return scripts[i];
      } catch (error) { /* not a URL: not us */ }
    }
    return null;
  }

  /* ---------- storage: blocked storage must not break the chat ---------- */
  var memory = {};
  function readStored(name) {
    try { return window.localStorage.getItem(name); } catch (error) { return memory[name] || null; }
  }
  function writeStored(name, value) {
    memory[name] = value;
    try {
      if (value === null) window.localStorage.removeItem(name);
      else window.localStorage.setItem(name, value);
    } catch (error) { /* kept in memory for this page */ }
  }

  /* ---------- state ---------- */
  var identity = window.hubbubChat && typeof window.hubbubChat === "object" ? window.hubbubChat : {};
  var state = {
    token: readStored(TOKEN_KEY),
    session: null,         // the promise of the current /session call
    ready: false,          // a session has answered at least once
    generation: 0,         // bumped when a session is dropped, so old loops stop
    visitor: null, teamName: "", greeting: "", showGreeting: false,
    online: null,          // null until the server has said
    messages: [], byId: {}, renderedUpTo: 0,  // messages sorted by id
    seenId: parseInt(readStored(SEEN_KEY) || "", 10),
    unread: 0, open: false, sending: false, contactSaved: false,
    run: null,             // the run of bubbles the next message may join
    live: { failures: 0, polling: false, timer: null, controller: null }
  };

  /* ---------- the server ---------- */
  function apiError(status, data) {
    var error = new Error((data && typeof data.error === "string" && data.error) || "Something went wrong. Try again.");
    error.status = status;
    error.code = data && typeof data.code === "string" ? data.code : "";
    error.retryAfter = data && typeof data.retry_after === "number" ? data.retry_after : null;
    return error;
  }

  function isBadToken(error) {
    return (error.status === 401 || error.status === 403) && error.code === "bad_token";
  }

  // No cookies, ever: the visitor is the bearer token, so the brand's site and ours share nothing.
  function request(method, path, body) {
    var headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (state.token && path !== "/session") headers.Authorization = "Bearer " + state.token;
    return fetch(BASE + path, {
      method: method, headers: headers, credentials: "omit", mode: "cors", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (error) { data = null; }
        if (!response.ok) throw apiError(response.status, data);
        return data || {};
      });
    });
  }

  function ensureSession() {
    if (!state.session) {
      state.session = startSession().catch(function (error) {
        state.session = null;  // the next open or send tries again
        throw error;
      });
    }
    return state.session;
  }

  function startSession() {
    var body = { page_url: location.href };
    if (state.token) body.token = state.token;
    if (identity.userId) body.user_id = String(identity.userId);
    if (identity.userHash) body.user_hash = String(identity.userHash);
    if (identity.name) body.name = String(identity.name);
    if (identity.email) body.email = String(identity.email);
    // The site's HMAC of the address: without it Hubbub keeps the address but trusts it no further.
    if (identity.emailHash) body.email_hash = String(identity.emailHash);
    return request("POST", "/session", body).catch(function (error) {
      if (!body.token || !isBadToken(error)) throw error;
      forgetToken();
      delete body.token;
      return request("POST", "/session", body);
    }).then(applySession);
  }

  function forgetToken() {
    state.token = null;
    writeStored(TOKEN_KEY, null);
    writeStored(SEEN_KEY, null);
  }

  function applySession(data) {
    state.token = String(data.token || "");
    writeStored(TOKEN_KEY, state.token);
    state.visitor = data.visitor || null;
    state.teamName = typeof data.team_name === "string" ? data.team_name : "";
    state.greeting = typeof data.greeting === "string" ? data.greeting : "";
    var messages = normalizeMessages(data.messages);
    state.showGreeting = messages.length === 0 && !!state.greeting;
    // A visitor seen before but without a record of what they read: treat the past as read.
    if (isNaN(state.seenId)) markSeen(messages.length ? messages[messages.length - 1].id : 0);
    state.ready = true;
    setOnline(data.online === true);
    renderAway();  // the visitor may have an address now, whatever the status
    renderAll();
    addMessages(messages);
    showNotice("");
    startLive();
  }

  // A token the server no longer accepts: start afresh, as a new visitor. Several calls can
  // hear "bad_token" at once: the first drops the session, the others wait for the new one.
  function dropSession() {
    if (!state.token && state.session) return state.session;
    stopLive();
    forgetToken();
    state.generation += 1;
    state.session = null;
    state.messages = [];
    state.byId = {};
    state.seenId = NaN;
    state.unread = 0;
    updateBadge();
    return ensureSession();
  }

  // Run a call that needs the session; a bad token is dropped and the call made once more.
  function withSession(call) {
    var generation = state.generation;
    return ensureSession().then(call).catch(function (error) {
      if (!isBadToken(error)) throw error;
      return (generation === state.generation ? dropSession() : ensureSession()).then(call);
    });
  }

  /* ---------- messages from the server are hostile until checked ---------- */
  function normalizeMessage(raw) {
    if (!raw || typeof raw !== "object") return null;
    if (typeof raw.id !== "number" || raw.id % 1 !== 0 || typeof raw.body !== "string") return null;
    if (raw.from !== "customer" && raw.from !== "agent") return null;
    var agent = raw.agent && typeof raw.agent === "object" ? raw.agent : {};
    return {
      id: raw.id, from: raw.from, body: raw.body,
      createdAt: typeof raw.created_at === "string" ? raw.created_at : "",
      agentName: typeof agent.name === "string" ? agent.name : "",
      avatarUrl: typeof agent.avatar_url === "string" ? agent.avatar_url : ""
    };
  }

  function normalizeMessages(list) {
    return (Array.isArray(list) ? list : []).map(normalizeMessage).filter(Boolean)
      .sort(function (a, b) { return a.id - b.id; });
  }

  function lastId() {
    return state.messages.length ? state.messages[state.messages.length - 1].id : 0;
  }

  // The same message comes back from POST /messages and from the stream: keep it once.
  function addMessages(list) {
    var fresh = list.filter(function (message) {
      if (state.byId[message.id]) return false;
      state.byId[message.id] = message;
      return true;
    });
    if (!fresh.length) return;
    state.messages = state.messages.concat(fresh).sort(function (a, b) { return a.id - b.id; });
    var stickToBottom = isNearBottom() || fresh.some(function (m) { return m.from === "customer"; });
    var inOrder = fresh.every(function (m) { return m.id > state.renderedUpTo; });
    if (inOrder) fresh.sort(function (a, b) { return a.id - b.id; }).forEach(appendMessage);
    else renderAll();
    if (stickToBottom) scrollToBottom();
    countUnread(fresh);
  }

  function countUnread(fresh) {
    if (state.open && !document.hidden) {
      markSeen(lastId());
      return;
    }
    fresh.forEach(function (message) {
      if (message.from === "agent" && message.id > state.seenId) state.unread += 1;
    });
    updateBadge();
  }

  function markSeen(id) {
    state.seenId = id;
    writeStored(SEEN_KEY, String(id));
  }

  /* ---------- live: a stream first, polling when streams keep failing ---------- */
  function startLive() {
    stopLive();
    state.live.failures = 0;
    state.live.polling = false;
    connectStream(state.generation);
  }

  function stopLive() {
    var live = state.live;
    clearTimeout(live.timer);
    if (live.controller) live.controller.abort();
    live.controller = null;
  }

  // EventSource cannot send the Authorization header, hence fetch and a reader.
  function connectStream(generation) {
    if (generation !== state.generation || !state.token) return;
    var controller = new AbortController();
    var healthy = false;
    state.live.controller = controller;
    fetch(BASE + "/stream?after=" + lastId(), {
      headers: { Accept: "text/event-stream", Authorization: "Bearer " + state.token },
      credentials: "omit", mode: "cors", cache: "no-store", signal: controller.signal
    }).then(function (response) {
      if (!response.ok) {
        return response.json().catch(function () { return null; }).then(function (data) { throw apiError(response.status, data); });
      }
      if (!response.body || !window.TextDecoder) throw new Error("streaming is not supported here");
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var feed = createEventStreamParser(handleStreamEvent);
      var pump = function () {
        return reader.read().then(function (chunk) {
          if (chunk.done) return;
          if (!healthy) {
            healthy = true;  // bytes arrived (a message or a ping): the stream works
            state.live.failures = 0;
            if (state.live.polling) stopPolling();
          }
          feed(decoder.decode(chunk.value, { stream: true }));
          return pump();
        });
      };
      return pump();
    }).then(function () {
      streamEnded(generation, healthy);
    }, function (error) {
      if (controller.signal.aborted || generation !== state.generation) return;
      if (isBadToken(error)) { dropSession().catch(showSessionError); return; }
      streamEnded(generation, healthy);
    });
  }

  // The server ends streams after a while: that is not a failure, reconnect quietly.
  function streamEnded(generation, healthy) {
    var live = state.live;
    if (generation !== state.generation) return;
    live.controller = null;
    if (healthy) {
      live.failures = 0;
      live.timer = setTimeout(function () { connectStream(generation); }, 1000);
      return;
    }
    live.failures += 1;
    if (live.failures >= STREAM_FAILURES_BEFORE_POLLING) {
      if (!live.polling) startPolling(generation);
      return;
    }
    var delay = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, live.failures - 1));
    live.timer = setTimeout(function () { connectStream(generation); }, delay);
  }

  function handleStreamEvent(type, data) {
    var parsed;
    try { parsed = JSON.parse(data); } catch (error) { return; }
    if (type === "message") {
      var message = normalizeMessage(parsed);
      if (message) addMessages([message]);
    } else if (type === "status" && parsed && typeof parsed.online === "boolean") {
      setOnline(parsed.online);
    }
    // Unknown events are for newer widgets.
  }

  // Server-sent events as the spec reads them: lines end in CRLF, LF or CR; an event ends
  // with a blank line; data lines join with "\n"; lines starting with ":" are comments.
  function createEventStreamParser(onEvent) {
    var buffer = "";
    var type = "";
    var data = [];
    function readLine(line) {
      if (line === "") {
        if (data.length) onEvent(type || "message", data.join("\n"));
        type = "";
        data = [];
        return;
      }
      if (line.charAt(0) === ":") return;
      var colon = line.indexOf(":");
      var field = colon === -1 ? line : line.slice(0, colon);
      var value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.charAt(0) === " ") value = value.slice(1);
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
    }
    var afterCr = false;  // a chunk ended in CR: an LF starting the next one is the same line end
    return function feed(text) {
      if (afterCr && text) {
        if (text.charAt(0) === "\n") text = text.slice(1);
        afterCr = false;
      }
      buffer += text;
      var ending = /\r\n|\r|\n/g;
      var start = 0;
      var match;
      while ((match = ending.exec(buffer))) {
        readLine(buffer.slice(start, match.index));
        start = ending.lastIndex;
        afterCr = match[0] === "\r" && start === buffer.length;
      }
      buffer = buffer.slice(start);
    };
  }

  function startPolling(generation) {
    state.live.polling = true;
    schedulePoll(generation, 0);
  }

  function stopPolling() {
    state.live.polling = false;
    clearTimeout(state.live.timer);
  }

  function schedulePoll(generation, delay) {
    clearTimeout(state.live.timer);
    state.live.timer = setTimeout(function () { poll(generation); }, delay);
  }

  function poll(generation) {
    if (generation !== state.generation || !state.live.polling) return;
    request("GET", "/messages?after=" + lastId()).then(function (data) {
      if (generation !== state.generation) return;
      addMessages(normalizeMessages(data.messages));
      if (typeof data.online === "boolean") setOnline(data.online);
    }).catch(function (error) {
      if (generation === state.generation && isBadToken(error)) return dropSession().catch(showSessionError);
    }).then(function () {
      if (generation === state.generation && state.live.polling) schedulePoll(generation, state.open ? POLL_OPEN_MS : POLL_CLOSED_MS);
    });
  }

  // Back online (a laptop woke up): try a stream at once; polling stops when it works.
  window.addEventListener("online", function () {
    var live = state.live;
    if (!state.ready || !state.token || live.controller) return;
    if (!live.polling) clearTimeout(live.timer);
    connectStream(state.generation);
  });

  /* ---------- DOM helpers ---------- */
  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function icon(pathData, size) {
    var svgNs = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(svgNs, "svg");
    var path = document.createElementNS(svgNs, "path");
    [["viewBox", "0 0 24 24"], ["width", size], ["height", size], ["aria-hidden", "true"], ["focusable", "false"]]
      .forEach(function (pair) { svg.setAttribute(pair[0], String(pair[1])); });
    [["d", pathData], ["fill", "none"], ["stroke", "currentColor"], ["stroke-width", "2"], ["stroke-linecap", "round"], ["stroke-linejoin", "round"]]
      .forEach(function (pair) { path.setAttribute(pair[0], pair[1]); });
    svg.appendChild(path);
    return svg;
  }

  var ICON_CHAT = "M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.9A8 8 0 1 1 21 12z";
  var ICON_CLOSE = "M6 6l12 12M18 6L6 18";
  var ICON_SEND = "M4 12l16-8-6 16-2.5-6.5L4 12z";

  /* ---------- the widget's look: calm neutrals, the brand's accent, readable in the dark ---------- */
  // A brand sets --hubbub-chat-accent on its page (custom properties cross the shadow boundary).
  var STYLES = [
    ":host { all: initial; }",
    ".hubbub { --accent: var(--hubbub-chat-accent, #3b4fd8); --surface: #fff; --soft: #f3f4f7; --text: #1c2030; --muted: #5a6072;",
    "  --border: #e3e5ea; --field: #fff; --danger: #b4232c; --online: #1f9d55; --away: #9aa0ad; --agent-link: var(--accent);",
    "  color: var(--text);",
    "  font: 15px/1.45 system-ui, -apple-system, \"Segoe UI\", Roboto, \"Helvetica Neue\", Arial, sans-serif; }",
    "@media (prefers-color-scheme: dark) { .hubbub { --surface: #1b1e28; --soft: #262a36; --text: #e7e9ef; --muted: #a6acba;",
    "  --border: #333849; --field: #14161d; --danger: #ff8f95; --away: #7d8392; --agent-link: var(--text); } }",
    "*, *::before, *::after { box-sizing: border-box; } [hidden] { display: none !important; }",
    ".vh { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }",
    "button, input, textarea { font: inherit; color: inherit; } :focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }",
    ".launcher { position: fixed; bottom: calc(20px + env(safe-area-inset-bottom, 0px)); right: 20px; z-index: 2147483000; width: 56px;",
    "  height: 56px; display: grid; place-items: center; border: 0; border-radius: 50%; background: var(--accent); color: #fff;",
    "  cursor: pointer; box-shadow: 0 6px 20px rgba(20, 24, 40, .25); transition: transform .15s; }",
    ".launcher:hover { transform: scale(1.05); } .launcher:focus-visible { outline-offset: 3px; }",
    ".left .launcher, .left .panel { right: auto; left: 20px; }",
    ".badge { position: absolute; top: -4px; right: -4px; min-width: 20px; height: 20px; padding: 0 6px; border-radius: 10px; background: #b4232c;",
    "  color: #fff; font-size: 12px; font-weight: 700; line-height: 20px; text-align: center; box-shadow: 0 0 0 2px #fff; }",
    ".panel { position: fixed; bottom: calc(88px + env(safe-area-inset-bottom, 0px)); right: 20px; z-index: 2147483001; width: 370px;",
    "  height: 600px; max-height: calc(100vh - 108px); display: flex; flex-direction: column; overflow: hidden; background: var(--surface);",
    "  border: 1px solid var(--border); border-radius: 14px; box-shadow: 0 12px 32px rgba(20, 24, 40, .22); animation: rise .16s ease-out; }",
    "@keyframes rise { from { opacity: 0; transform: translateY(8px); } }",
    "@media (max-width: 480px) { .panel, .left .panel { top: 0; right: 0; bottom: 0; left: 0; width: auto; height: auto; max-height: none;",
    "  border: 0; border-radius: 0; } .is-open .launcher { display: none; } }",
    "@media (prefers-reduced-motion: reduce) { .panel { animation: none; } .launcher { transition: none; } }",
    ".head { display: flex; align-items: flex-start; gap: 8px; padding: 14px 12px 12px 16px; border-bottom: 1px solid var(--border); }",
    ".head-text { flex: 1; min-width: 0; } .title { margin: 0; font-size: 16px; font-weight: 600; line-height: 1.3; overflow-wrap: anywhere; }",
    ".status { display: flex; align-items: center; gap: 6px; margin: 2px 0 0; font-size: 13px; color: var(--muted); }",
    ".dot { width: 8px; height: 8px; border-radius: 50%; background: var(--away); flex: none; } .is-online .dot { background: var(--online); }",
    ".close { flex: none; width: 32px; height: 32px; display: grid; place-items: center; border: 0; border-radius: 8px; background: none;",
    "  color: var(--muted); cursor: pointer; } .close:hover { background: var(--soft); color: var(--text); }",
    ".notice { margin: 0; padding: 8px 16px; font-size: 13px; background: var(--soft); }",
    ".log { flex: 1; overflow-y: auto; overscroll-behavior: contain; padding: 16px; display: flex; flex-direction: column; gap: 12px; }",
    ".run { display: flex; flex-direction: column; gap: 4px; max-width: 85%; } .run-agent { align-self: flex-start; }",
    ".run-customer { align-self: flex-end; align-items: flex-end; } .run-customer .bubbles { align-items: flex-end; }",
    ".run-name { font-size: 12px; color: var(--muted); margin-left: 36px; overflow-wrap: anywhere; }",
    ".run-row { display: flex; align-items: flex-end; gap: 8px; min-width: 0; }",
    ".bubbles { display: flex; flex-direction: column; gap: 3px; min-width: 0; }",
    ".bubble { max-width: 100%; padding: 8px 12px; border-radius: 16px; white-space: pre-wrap; overflow-wrap: anywhere; }",
    ".run-agent .bubble { background: var(--soft); border-bottom-left-radius: 4px; }",
    ".run-customer .bubble { background: var(--accent); color: #fff; border-bottom-right-radius: 4px; }",
    ".bubble a { color: inherit; text-decoration: underline; text-underline-offset: 2px; } .run-agent .bubble a { color: var(--agent-link); }",
    ".run-time { font-size: 11px; color: var(--muted); } .run-agent .run-time { margin-left: 36px; }",
    ".avatar { width: 28px; height: 28px; flex: none; display: grid; place-items: center; border-radius: 50%; object-fit: cover;",
    "  background: #dfe3f7; color: #2d3a9c; font-size: 11px; font-weight: 600; }",
    ".away { padding: 12px 16px; border-top: 1px solid var(--border); background: var(--soft); font-size: 14px; } .away p { margin: 0; }",
    ".contact { display: flex; gap: 8px; margin-top: 8px; }",
    ".contact input { flex: 1; min-width: 0; padding: 6px 10px; font-size: 16px; border: 1px solid var(--border); border-radius: 8px;",
    "  background: var(--field); }",
    ".button { flex: none; padding: 7px 14px; border: 0; border-radius: 8px; background: var(--accent); color: #fff; font-weight: 600;",
    "  cursor: pointer; }",
    ".button:disabled { opacity: .6; cursor: progress; }",
    ".composer { padding: 10px 12px 12px; border-top: 1px solid var(--border); } .composer-row { display: flex; align-items: flex-end; gap: 8px; }",
    ".composer textarea { flex: 1; min-width: 0; max-height: calc(5 * 1.4em + 18px); overflow-y: auto; resize: none; padding: 8px 10px;",
    "  font-size: 16px; line-height: 1.4; border: 1px solid var(--border); border-radius: 10px; background: var(--field); }",
    ".send { width: 40px; height: 40px; padding: 0; display: grid; place-items: center; border-radius: 10px; }",
    ".composer-foot { display: flex; gap: 8px; justify-content: space-between; font-size: 12px; }",
    ".error { margin: 6px 0 0; color: var(--danger); font-size: 13px; } .counter { margin: 6px 0 0 auto; color: var(--muted); }"
  ].join("\n");

  /* ---------- building the widget ---------- */
  var ui = {};

  function build() {
    var host = el("div", { "data-hubbub-chat": "" });
    var root = host.attachShadow({ mode: "open" });
    addStyles(root);
    ui.wrapper = el("div", { "class": "hubbub " + POSITION });
    ui.launcher = el("button", { type: "button", "class": "launcher", "aria-expanded": "false", "aria-controls": "hubbub-chat-panel" },
      [icon(ICON_CHAT, 26)]);
    ui.badge = el("span", { "class": "badge", "aria-hidden": "true", hidden: "" });
    ui.launcher.appendChild(ui.badge);
    ui.panel = buildPanel();
    ui.wrapper.appendChild(ui.launcher);
    ui.wrapper.appendChild(ui.panel);
    root.appendChild(ui.wrapper);
    document.body.appendChild(host);
    updateBadge();
    ui.launcher.addEventListener("click", toggle);
    ui.wrapper.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" || !state.open) return;
      event.preventDefault();
      close();
    });
  }

  // A constructed sheet is not inline style, so a brand's style-src policy cannot block it.
  function addStyles(root) {
    if (window.CSSStyleSheet && "adoptedStyleSheets" in root) {
      try {
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(STYLES);
        root.adoptedStyleSheets = [sheet];
        return;
      } catch (error) { /* fall back to a <style> */ }
    }
    root.appendChild(el("style", {}, [STYLES]));
  }

  function buildPanel() {
    ui.title = el("h2", { "class": "title", id: "hubbub-chat-title" }, [TITLE]);
    ui.statusText = el("span", {}, ["Connecting…"]);
    ui.status = el("p", { "class": "status", role: "status" }, [el("span", { "class": "dot", "aria-hidden": "true" }), ui.statusText]);
    ui.close = el("button", { type: "button", "class": "close", "aria-label": "Close chat" }, [icon(ICON_CLOSE, 18)]);
    ui.close.addEventListener("click", function () { close(); });
    var head = el("div", { "class": "head" }, [el("div", { "class": "head-text" }, [ui.title, ui.status]), ui.close]);
    ui.notice = el("p", { "class": "notice", role: "alert", hidden: "" });
    ui.log = el("div", { "class": "log", role: "log", "aria-live": "polite", "aria-label": "Messages", tabindex: "0" });
    ui.away = el("div", { "class": "away", hidden: "" });
    return el("div", { "class": "panel", id: "hubbub-chat-panel", role: "dialog", "aria-label": TITLE, hidden: "" },
      [head, ui.notice, ui.log, ui.away, buildComposer()]);
  }

  function buildComposer() {
    ui.field = el("textarea", { id: "hubbub-chat-message", rows: "1", maxlength: String(MAX_LENGTH), placeholder: "Write a message…",
      "aria-describedby": "hubbub-chat-error hubbub-chat-counter" });
    ui.send = el("button", { type: "submit", "class": "button send", "aria-label": "Send" }, [icon(ICON_SEND, 18)]);
    ui.error = el("p", { "class": "error", id: "hubbub-chat-error", role: "alert", hidden: "" });
    ui.counter = el("p", { "class": "counter", id: "hubbub-chat-counter", hidden: "" });
    var form = el("form", { "class": "composer", "aria-label": "Send a message" }, [
      el("label", { "for": "hubbub-chat-message", "class": "vh" }, ["Message"]),
      el("div", { "class": "composer-row" }, [ui.field, ui.send]),
      el("div", { "class": "composer-foot" }, [ui.error, ui.counter])
    ]);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      sendDraft();
    });
    ui.field.addEventListener("keydown", function (event) {
      // Enter while an input method is composing picks a word; it does not send.
      if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
      event.preventDefault();
      sendDraft();
    });
    ui.field.addEventListener("input", function () {
      fitField();
      updateCounter();
    });
    return form;
  }

  // Grow from one row to five; the CSS max-height stops it there and it scrolls inside.
  function fitField() {
    ui.field.style.height = "auto";
    // A hidden panel measures nothing: leave the box at its natural height then.
    if (ui.field.scrollHeight) ui.field.style.height = ui.field.scrollHeight + 2 + "px";
  }

  function updateCounter() {
    var length = ui.field.value.length;
    ui.counter.hidden = length < COUNTER_FROM;
    ui.counter.textContent = ui.counter.hidden ? "" : (MAX_LENGTH - length) + " characters left";
  }

  function showComposerError(text) {
    ui.error.textContent = text;
    ui.error.hidden = !text;
  }

  function showNotice(text) {
    ui.notice.textContent = text;
    ui.notice.hidden = !text;
  }

  function showSessionError(error) {
    showNotice(error && error.status === 429
      ? "Too many tries just now. Please wait a moment and open the chat again."
      : "The chat is not available right now. Please try again in a moment.");
  }

  /* ---------- messages on screen ---------- */
  function isNearBottom() {
    var log = ui.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < NEAR_BOTTOM_PX;
  }

  function scrollToBottom() {
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function renderAll() {
    ui.log.textContent = "";
    state.run = null;
    state.renderedUpTo = 0;
    if (state.showGreeting) renderGreeting();
    state.messages.forEach(appendMessage);
  }

  function renderGreeting() {
    var name = state.teamName || "Support";
    var run = startRun("greeting", name, "");
    run.bubbles.appendChild(buildBubble(name, state.greeting, true));
    state.run = null;  // the first real message starts its own run
  }

  function agentName(message) {
    return message.agentName || state.teamName || "Support";
  }

  function appendMessage(message) {
    var isAgent = message.from === "agent";
    var key = isAgent ? "agent:" + agentName(message) : "customer";
    var time = Date.parse(message.createdAt);
    var run = state.run;
    if (!run || run.key !== key || Math.abs(time - run.lastTime) > RUN_GAP_MS) {
      run = state.run = startRun(key, isAgent ? agentName(message) : "", isAgent ? message.avatarUrl : null);
    }
    run.bubbles.appendChild(buildBubble(isAgent ? agentName(message) : "You", message.body, isAgent));
    run.lastTime = time;
    run.time.textContent = formatTime(message.createdAt);
    if (message.createdAt) run.time.setAttribute("datetime", message.createdAt);
    state.renderedUpTo = Math.max(state.renderedUpTo, message.id);
  }

  // A run is the messages one person sent in a row: name and photo once, time under the last.
  function startRun(key, name, avatarUrl) {
    var isAgent = key !== "customer";
    var run = { key: key, lastTime: NaN, bubbles: el("div", { "class": "bubbles" }),
      time: el("time", { "class": "run-time", "aria-hidden": "true" }) };
    var row = el("div", { "class": "run-row" });
    if (isAgent) row.appendChild(buildAvatar(name, avatarUrl));
    row.appendChild(run.bubbles);
    // Screen readers hear the speaker inside each bubble, so the visible name is hidden from them.
    var children = isAgent ? [el("div", { "class": "run-name", "aria-hidden": "true" }, [name]), row] : [row];
    if (key !== "greeting") children.push(run.time);
    ui.log.appendChild(el("div", { "class": "run run-" + (isAgent ? "agent" : "customer") }, children));
    return run;
  }

  function buildBubble(speaker, body, linkify) {
    var bubble = el("div", { "class": "bubble" }, [el("span", { "class": "vh" }, [speaker + ": "])]);
    if (linkify) appendWithLinks(bubble, body);
    else bubble.appendChild(document.createTextNode(body));
    return bubble;
  }

  // Only a photo from our own server: an address from elsewhere could track the visitor.
  function buildAvatar(name, avatarUrl) {
    var initials = el("span", { "class": "avatar", "aria-hidden": "true" }, [initialsOf(name)]);
    if (!avatarUrl || !isOnApiOrigin(avatarUrl)) return initials;
    var image = el("img", { "class": "avatar", alt: "", width: "28", height: "28", referrerpolicy: "no-referrer" });
    image.addEventListener("error", function () { if (image.parentNode) image.parentNode.replaceChild(initials, image); });
    image.src = avatarUrl;
    return image;
  }

  function isOnApiOrigin(address) {
    try { return new URL(address).origin === API_ORIGIN; } catch (error) { return false; }
  }

  function initialsOf(name) {
    var words = String(name).trim().split(/\s+/).filter(Boolean);
    var letters = words.slice(0, 2).map(function (word) { return Array.from(word)[0]; });
    return letters.join("").toUpperCase() || "?";
  }

  function formatTime(iso) {
    var date = new Date(iso);
    if (!iso || isNaN(date.getTime())) return "";
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // Links are built, never parsed from HTML: only http and https become a link.
  var URL_PATTERN = /\bhttps?:\/\/[^\s<>"]+/gi;
  function appendWithLinks(parent, text) {
    var last = 0;
    var match;
    URL_PATTERN.lastIndex = 0;
    while ((match = URL_PATTERN.exec(text))) {
      var address = trimTrailingPunctuation(match[0]);
      var link = buildLink(address);
      if (!link) continue;
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      parent.appendChild(link);
      last = match.index + address.length;
      URL_PATTERN.lastIndex = last;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  // "See https://example.com/help." ends the sentence, not the address; a ")" closes the
  // address only when the address opened one (as Wikipedia's do).
  function trimTrailingPunctuation(address) {
    var trimmed = address.replace(/[.,;:!?'\]}]+$/, "");
    while (trimmed.slice(-1) === ")" && (trimmed.match(/\(/g) || []).length < (trimmed.match(/\)/g) || []).length) {
      trimmed = trimmed.slice(0, -1).replace(/[.,;:!?'\]}]+$/, "");
    }
    return trimmed;
  }

  function buildLink(address) {
    var parsed;
    try { parsed = new URL(address); } catch (error) { return null; }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
    var link = el("a", { target: "_blank", rel: "noopener noreferrer" }, [address]);
    link.href = parsed.href;
    return link;
  }

  /* ---------- online, away and the email form ---------- */
  function setOnline(online) {
    if (state.online === online) return;
    state.online = online;
    ui.status.classList.toggle("is-online", online);
    ui.statusText.textContent = online ? "We're online — we usually answer in a few minutes" : "We're away right now";
    renderAway();
  }

  function visitorEmail() {
    return state.visitor && typeof state.visitor.email === "string" ? state.visitor.email : "";
  }

  function renderAway() {
    var away = ui.away;
    away.textContent = "";
    away.hidden = state.online !== false;
    if (away.hidden) return;
    if (visitorEmail()) {
      var said = state.contactSaved ? "Thanks — we'll write to " + visitorEmail() + "." : "We'll answer by email at " + visitorEmail() + ".";
      away.appendChild(el("p", { role: "status" }, [said]));
      return;
    }
    away.appendChild(buildContactForm());
  }

  function buildContactForm() {
    var input = el("input", { type: "email", id: "hubbub-chat-email", name: "email", required: "", autocomplete: "email",
      placeholder: "you@example.com", "aria-describedby": "hubbub-chat-contact-error" });
    var button = el("button", { type: "submit", "class": "button" }, ["Save"]);
    var error = el("p", { "class": "error", id: "hubbub-chat-contact-error", role: "alert", hidden: "" });
    // Our own message instead of the browser's bubble: it is read out, and it matches the widget.
    var form = el("form", { "aria-label": "Leave your email", novalidate: "" }, [
      el("p", {}, ["No one is online right now. Leave your email and we'll answer by email."]),
      el("div", { "class": "contact" }, [el("label", { "for": "hubbub-chat-email", "class": "vh" }, ["Your email"]), input, button]),
      error
    ]);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var email = input.value.trim();
      if (!email || !input.checkValidity()) {
        error.textContent = "Enter an email address such as name@example.com.";
        error.hidden = false;
        return;
      }
      button.disabled = true;
      var body = { email: email };
      if (identity.name) body.name = String(identity.name);
      withSession(function () { return request("POST", "/contact", body); }).then(function (data) {
        state.visitor = data.visitor || { email: email };
        if (!visitorEmail()) state.visitor = { email: email };
        state.contactSaved = true;
        renderAway();
      }).catch(function (failure) {
        button.disabled = false;
        error.textContent = failure.status ? failure.message : "That did not reach us. Check your connection and try again.";
        error.hidden = false;
      });
    });
    return form;
  }

  /* ---------- sending ---------- */
  function sendDraft() {
    var text = ui.field.value.trim();
    if (!text || state.sending) return;
    setSending(true);
    showComposerError("");
    withSession(function () { return request("POST", "/messages", { body: text }); }).then(function (data) {
      var message = normalizeMessage(data.message);
      if (message) addMessages([message]);
      ui.field.value = "";
      fitField();
      updateCounter();
    }).catch(function (error) {
      showComposerError(describeSendError(error));  // the draft stays in the box
    }).then(function () {
      setSending(false);
    });
  }

  function describeSendError(error) {
    if (error.status === 429) {
      return error.retryAfter
        ? "You're sending messages quickly — try again in " + Math.ceil(error.retryAfter) + " s."
        : "You're sending messages quickly — try again in a moment.";
    }
    if (error.status === 400) return error.message;
    if (error.status) return "Your message was not sent. Please try again in a moment.";
    return "Your message was not sent. Check your connection and try again.";
  }

  // The box stays editable-looking and keeps the focus; only a second send is held back.
  function setSending(sending) {
    state.sending = sending;
    ui.send.disabled = sending;
    ui.field.readOnly = sending;
    if (sending) ui.field.setAttribute("aria-busy", "true");
    else ui.field.removeAttribute("aria-busy");
  }

  /* ---------- open, close, the unread badge ---------- */
  function updateBadge() {
    var count = state.unread;
    ui.badge.hidden = !count;
    ui.badge.textContent = count > 9 ? "9+" : String(count);
    ui.launcher.setAttribute("aria-label", count ? TITLE + " — " + count + (count === 1 ? " new message" : " new messages") : TITLE);
  }

  function open() {
    if (state.open || !ui.panel) return;
    state.open = true;
    ui.panel.hidden = false;
    ui.wrapper.classList.add("is-open");
    ui.launcher.setAttribute("aria-expanded", "true");
    state.unread = 0;
    updateBadge();
    if (state.messages.length) markSeen(lastId());
    scrollToBottom();
    fitField();
    ui.field.focus();
    if (state.live.polling) schedulePoll(state.generation, 0);
    ensureSession().then(scrollToBottom, showSessionError);
  }

  function close() {
    if (!state.open || !ui.panel) return;
    state.open = false;
    ui.panel.hidden = true;
    ui.wrapper.classList.remove("is-open");
    ui.launcher.setAttribute("aria-expanded", "false");
    ui.launcher.focus();
  }

  function toggle() {
    if (state.open) close();
    else open();
  }

  // Replies read in another tab or while this one was hidden count once the visitor looks.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden || !state.open || !ui.badge) return;
    if (state.messages.length) markSeen(lastId());
    state.unread = 0;
    updateBadge();
  });

  function start() {
    build();
    // A returning visitor connects at once, so replies that came meanwhile badge the launcher.
    if (state.token) ensureSession().catch(function () { /* tried again when the panel opens */ });
  }

  window.HubbubChat = { open: open, close: close, toggle: toggle };
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
