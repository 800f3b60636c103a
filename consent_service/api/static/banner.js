/*
 * consent_service cookie banner: dependency-free, embeddable with
 *   <script src="https://CONSENT_HOST/v1/public/banner.js" data-site-key="pk_..." defer></script>
 *
 * Reads the site's banner config, asks once per device (a random id in localStorage), records
 * the decision in the consent ledger, remembers the result (decisions + receipt id) and
 * announces it with a `consent-service:decision` event on `document`. Asks again when the site
 * offers a new consent purpose or a purpose's text changes (new version).
 * `window.ConsentService.open()` reopens the settings; `.ready` settles once it decided whether to ask.
 */
(function () {
  "use strict";

  var DEVICE_KEY = "consent_service.device_id";
  var STATE_PREFIX = "consent_service.consent.";
  var EVENT = "consent-service:decision";

  var TEXTS = {
    en: {
      title: "Your privacy choices",
      intro: "We use cookies and similar technologies. Essential ones keep this site working; " +
        "everything else needs your consent. You can change your choice at any time.",
      accept: "Accept all",
      reject: "Reject all",
      settings: "Settings",
      save: "Save choices",
      alwaysOn: "Always on",
      cookies: "Cookies",
      purposes: "Purposes",
      saving: "Saving…",
      error: "Your choice could not be saved. Please try again.",
      rateLimited: "Too many attempts. Please wait a minute and try again."
    },
    de: {
      title: "Ihre Datenschutz-Einstellungen",
      intro: "Wir verwenden Cookies und ähnliche Technologien. Notwendige halten diese Website " +
        "funktionsfähig; alles andere braucht Ihre Einwilligung. Sie können Ihre Wahl jederzeit ändern.",
      accept: "Alle akzeptieren",
      reject: "Alle ablehnen",
      settings: "Einstellungen",
      save: "Auswahl speichern",
      alwaysOn: "Immer aktiv",
      cookies: "Cookies",
      purposes: "Zwecke",
      saving: "Wird gespeichert…",
      error: "Ihre Auswahl konnte nicht gespeichert werden. Bitte versuchen Sie es erneut.",
      rateLimited: "Zu viele Versuche. Bitte warten Sie eine Minute und versuchen Sie es erneut."
    }
  };

  var CSS =
    "#consent-service-banner{position:fixed;left:1rem;right:1rem;bottom:1rem;z-index:2147483000;" +
    "max-width:42rem;margin:0 auto;max-height:calc(100vh - 2rem);overflow:auto;box-sizing:border-box;" +
    "padding:1.25rem 1.5rem;background:#fff;color:#1f2328;border:1px solid #d0d7de;border-radius:10px;" +
    "box-shadow:0 8px 30px rgba(0,0,0,.2);font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
    "#consent-service-banner *{box-sizing:border-box}" +
    "#consent-service-banner:focus{outline:none}" +
    "#consent-service-banner h2{margin:0 0 .5rem;font-size:1.15rem;font-weight:600}" +
    "#consent-service-banner p{margin:0 0 1rem}" +
    "#consent-service-banner .cs-actions{display:flex;flex-wrap:wrap;gap:.5rem}" +
    "#consent-service-banner button{flex:1 1 9rem;padding:.6rem 1rem;font:inherit;font-weight:600;" +
    "border-radius:6px;border:1px solid #1f6feb;background:#1f6feb;color:#fff;cursor:pointer}" +
    "#consent-service-banner button.cs-secondary{background:#fff;color:#1f6feb}" +
    "#consent-service-banner button:focus-visible{outline:3px solid #f0b429;outline-offset:2px}" +
    "#consent-service-banner button[disabled]{opacity:.6;cursor:progress}" +
    "#consent-service-banner fieldset{border:0;margin:0 0 1rem;padding:0}" +
    "#consent-service-banner legend{font-weight:600;margin-bottom:.25rem;padding:0}" +
    "#consent-service-banner .cs-purpose{display:flex;gap:.6rem;padding:.55rem 0;border-top:1px solid #eaeef2}" +
    "#consent-service-banner .cs-purpose input{margin-top:.25rem;width:1.1rem;height:1.1rem;flex:none}" +
    "#consent-service-banner .cs-purpose small{display:block;color:#57606a}" +
    "#consent-service-banner .cs-badge{font-size:.8rem;color:#1a7f37;margin-left:.4rem}" +
    "#consent-service-banner .cs-error{margin:0 0 .75rem;padding:.5rem .75rem;border-radius:6px;" +
    "background:#ffebe9;color:#82071e;border:1px solid #ff8182}" +
    "#consent-service-banner [hidden]{display:none!important}";

  var script = document.currentScript ||
    document.querySelector("script[data-site-key][src*='/v1/public/banner.js']");
  if (!script) {
    return;
  }
  var siteKey = script.getAttribute("data-site-key");
  var apiBase = script.src.replace(/\/v1\/public\/banner\.js(?:[?#].*)?$/, "");
  if (!siteKey) {
    console.error("consent_service: the banner script needs a data-site-key attribute");
    return;
  }

  var memoryStore = {};
  var store = {
    get: function (key) {
      try { return window.localStorage.getItem(key); } catch (e) { return memoryStore[key] || null; }
    },
    set: function (key, value) {
      try { window.localStorage.setItem(key, value); } catch (e) { memoryStore[key] = value; }
    }
  };

  function randomId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function deviceId() {
    var id = store.get(DEVICE_KEY);
    if (!id) {
      id = randomId();
      store.set(DEVICE_KEY, id);
    }
    return id;
  }

  function language() {
    var lang = (document.documentElement.getAttribute("lang") || "").toLowerCase().split("-")[0];
    return TEXTS[lang] ? lang : "en";
  }

  function localized(map, lang, fallback) {
    if (!map) { return fallback; }
    if (map[lang]) { return map[lang]; }
    if (map.en) { return map.en; }
    for (var k in map) { if (Object.prototype.hasOwnProperty.call(map, k)) { return map[k]; } }
    return fallback;
  }

  function readState() {
    try { return JSON.parse(store.get(STATE_PREFIX + siteKey) || "null"); } catch (e) { return null; }
  }

  function consentPurposes(config) {
    return config.purposes.filter(function (p) { return p.legal_basis === "consent"; });
  }

  /* A stored decision still holds while it covers every consent purpose at its current version. */
  function stillValid(state, config) {
    if (!state || !state.versions) { return false; }
    return consentPurposes(config).every(function (p) { return state.versions[p.key] === p.version; });
  }

  function announce(state, stored) {
    document.dispatchEvent(new CustomEvent(EVENT, {
      detail: {
        decisions: state.decisions,
        method: state.method,
        receiptId: state.receipt_id,
        subjectId: state.subject_id,
        stored: stored
      }
    }));
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var name in attrs || {}) {
      if (Object.prototype.hasOwnProperty.call(attrs, name)) {
        if (name === "text") { node.textContent = attrs[name]; } else { node.setAttribute(name, attrs[name]); }
      }
    }
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  var config = null;
  var configPromise = null;
  var ui = null;

  function loadConfig() {
    if (!configPromise) {
      configPromise = fetch(apiBase + "/v1/public/sites/" + encodeURIComponent(siteKey), {
        credentials: "omit",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        if (!response.ok) { throw new Error("banner config answered " + response.status); }
        return response.json();
      }).then(function (body) {
        config = body;
        return body;
      }, function (error) {
        configPromise = null; // let a later open() try again
        throw error;
      });
    }
    return configPromise;
  }

  function build() {
    var lang = language();
    var t = TEXTS[lang];
    if (!document.getElementById("consent-service-style")) {
      document.head.appendChild(el("style", { id: "consent-service-style", text: CSS }));
    }
    var state = readState();
    var checked = state && state.decisions ? state.decisions : {};
    var rows = config.purposes.map(function (p) {
      var always = p.legal_basis !== "consent";
      var id = "cs-purpose-" + p.key;
      var cookies = config.cookies.filter(function (c) { return c.purpose === p.key; })
        .map(function (c) { return c.name + (c.provider ? " (" + c.provider + ")" : ""); });
      var box = el("input", { type: "checkbox", id: id, name: p.key, "data-purpose": p.key });
      box.checked = always || checked[p.key] === true;
      box.disabled = always;
      var title = el("strong", { text: localized(p.titles, lang, p.key) });
      var label = el("label", { "for": id }, [
        title,
        always ? el("span", { "class": "cs-badge", text: t.alwaysOn }) : null,
        el("small", { text: localized(p.descriptions, lang, "") }),
        cookies.length ? el("small", { text: t.cookies + ": " + cookies.join(", ") }) : null
      ]);
      return el("div", { "class": "cs-purpose" }, [box, label]);
    });
    var error = el("p", { "class": "cs-error", role: "alert", hidden: "" });
    var accept = el("button", { type: "button", "data-action": "accept_all", text: t.accept });
    var reject = el("button", { type: "button", "data-action": "reject_all", text: t.reject });
    var settings = el("button", {
      type: "button", "class": "cs-secondary", "data-action": "settings",
      "aria-expanded": "false", "aria-controls": "consent-service-settings", text: t.settings
    });
    var save = el("button", {
      type: "button", "class": "cs-secondary", "data-action": "custom", hidden: "", text: t.save
    });
    var panel = el("fieldset", { id: "consent-service-settings", hidden: "" },
      [el("legend", { text: t.purposes })].concat(rows));
    var root = el("div", {
      id: "consent-service-banner", role: "dialog", "aria-modal": "false",
      "aria-labelledby": "consent-service-title", "aria-describedby": "consent-service-intro",
      "aria-label": t.title, tabindex: "-1", lang: lang
    }, [
      el("h2", { id: "consent-service-title", text: t.title }),
      el("p", { id: "consent-service-intro", text: t.intro }),
      panel,
      error,
      el("div", { "class": "cs-actions" }, [accept, reject, settings, save])
    ]);
    root.addEventListener("click", function (event) {
      var action = event.target && event.target.getAttribute && event.target.getAttribute("data-action");
      if (action === "settings") {
        showSettings(!panel.hidden ? false : true);
      } else if (action) {
        decide(action);
      }
    });
    root.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && readState()) { close(); }
    });
    function showSettings(open) {
      panel.hidden = !open;
      save.hidden = !open;
      settings.setAttribute("aria-expanded", open ? "true" : "false");
    }
    return { root: root, panel: panel, error: error, buttons: [accept, reject, settings, save],
      showSettings: showSettings, lang: lang, texts: t };
  }

  function show(withSettings) {
    if (ui) { ui.root.remove(); }
    ui = build();
    document.body.appendChild(ui.root);
    ui.showSettings(!!withSettings);
    ui.root.focus();
  }

  function close() {
    if (ui) {
      ui.root.remove();
      ui = null;
    }
  }

  function busy(on) {
    ui.buttons.forEach(function (b) { b.disabled = on; });
    ui.root.setAttribute("aria-busy", on ? "true" : "false");
  }

  function fail(message, detail) {
    if (detail) { console.error("consent_service:", detail); }
    if (!ui) { return; }
    busy(false);
    ui.error.textContent = message;
    ui.error.hidden = false;
  }

  function decide(method) {
    var decisions = {};
    consentPurposes(config).forEach(function (p) {
      if (method === "accept_all") {
        decisions[p.key] = true;
      } else if (method === "reject_all") {
        decisions[p.key] = false;
      } else {
        var box = ui.panel.querySelector("input[data-purpose='" + p.key + "']");
        decisions[p.key] = !!(box && box.checked);
      }
    });
    var keys = Object.keys(decisions);
    if (!keys.length) { close(); return; }
    var t = ui.texts;
    ui.error.hidden = true;
    busy(true);
    fetch(apiBase + "/v1/public/consents", {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-Site-Key": siteKey },
      body: JSON.stringify({
        subject: { type: "device_id", value: deviceId() },
        decisions: keys.map(function (k) { return { purpose: k, granted: decisions[k] }; }),
        method: method,
        language: ui.lang,
        url: location.href.slice(0, 2000)
      })
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) {
          fail(response.status === 429 ? t.rateLimited : t.error,
            response.status + " " + (body.detail || body.title || response.statusText));
          return;
        }
        var versions = {};
        consentPurposes(config).forEach(function (p) { versions[p.key] = p.version; });
        var state = {
          decisions: decisions,
          method: method,
          receipt_id: body.receipt && body.receipt.payload ? body.receipt.payload.consentReceiptID : null,
          subject_id: body.subject_id || null,
          versions: versions,
          decided_at: new Date().toISOString()
        };
        store.set(STATE_PREFIX + siteKey, JSON.stringify(state));
        close();
        announce(state, false);
      });
    }, function (error) {
      fail(t.error, error);
    });
  }

  function open() {
    return loadConfig().then(function () { show(true); }, function (error) {
      console.error("consent_service: the banner settings could not be loaded:", error);
    });
  }

  var settle;
  window.ConsentService = {
    open: open,
    decisions: function () { var s = readState(); return s ? s.decisions : null; },
    deviceId: deviceId,
    /* Resolves once the banner has decided whether to ask: {shown: bool, error?: string}. */
    ready: new Promise(function (resolve) { settle = resolve; })
  };

  function start() {
    var state = readState();
    if (state && state.decisions) {
      announce(state, true); // let the page load what was allowed without waiting for the network
    }
    loadConfig().then(function () {
      var ask = consentPurposes(config).length > 0 && !stillValid(readState(), config);
      if (ask) { show(false); }
      settle({ shown: ask });
    }, function (error) {
      console.error("consent_service: the banner config could not be loaded:", error);
      settle({ shown: false, error: String(error) });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
