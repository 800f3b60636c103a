/*
 * consent_service cookie banner, embeddable with
 *   <script src="https://CONSENT_HOST/v1/public/banner.js" data-site-key="pk_..."></script>
 * (add data-consent-mode when the site uses Google Consent Mode; see docs/banner.md).
 *
 * Loads the site's banner config in the page's language, asks when a purpose needs a choice
 * (rules.js), records the decision in the consent ledger, keeps it on the device, loads what
 * it allows (blocking.js), signals Google Consent Mode (consentmode.js) and announces it with a
 * `consent-service:decision` event on `document`. Built into api/static/banner.js by `make banner`.
 */
import * as blocking from "./blocking.js";
import * as consentMode from "./consentmode.js";
import { choosable, due } from "./rules.js";
import { deviceId, readCached, readState, writeCached, writeState } from "./storage.js";
import { dialog, floatingButton, placeholderFactory, toast } from "./ui.js";

const EVENT = "consent-service:decision";
// Consent Mode before the banner knows the site's settings (a device's first page): the strictest
// default, corrected once the settings arrive (consentmode.js)
const CM_FALLBACK = { mode: "basic", mapping: {}, wait_for_update: 500, regions: [], ads_data_redaction: true, url_passthrough: false };

const script = document.currentScript ||
  document.querySelector("script[data-site-key][src*='/v1/public/banner.js']");
if (script) {
  start(script);
}

function start(script) {
  const siteKey = script.getAttribute("data-site-key");
  const apiBase = script.src.replace(/\/v1\/public\/banner\.js(?:[?#].*)?$/, "");
  if (!siteKey) {
    console.error("consent_service: the banner script needs a data-site-key attribute");
    return;
  }
  const gpc = navigator.globalPrivacyControl === true;
  let config = null;
  let configPromise = null;
  let ui = null;
  let floating = null;
  let returnFocus = null;
  let settle;
  // what the page needs before the config arrives: what is strictly necessary, which purpose each
  // cookie serves, and Consent Mode's settings (from the last visit)
  let cached = readCached(siteKey) || { necessary: [], cookies: {}, consent_mode: null };

  // Consent Mode is on when the site's settings say so or the script tag asks for it
  // (data-consent-mode: the default is set now, before the page's Google tags, even on a first visit)
  const consentModeOn = () => script.hasAttribute("data-consent-mode") ||
    (config ? config.settings.consent_mode.enabled : !!(cached.consent_mode && cached.consent_mode.enabled));
  const cmSettings = () => (config ? config.settings.consent_mode : cached.consent_mode || CM_FALLBACK);
  let defaulted = false;
  if (consentModeOn()) {
    consentMode.setDefault(cmSettings(), (k) => cached.necessary.indexOf(k) >= 0);
    defaulted = true;
    const stored = readState(siteKey);
    if (stored && cached.consent_mode) { consentMode.update(cmSettings(), (k) => purposeAllowed(k, stored)); }
  }

  function purposeAllowed(key, state) {
    state = state === undefined ? readState(siteKey) : state;
    return cached.necessary.indexOf(key) >= 0 || !!(state && state.decisions[key] === true);
  }

  function cookieAllowed(name, state) {
    state = state === undefined ? readState(siteKey) : state;
    const purpose = cached.cookies[name];
    return !!purpose && purposeAllowed(purpose, state) && !(state && state.cookies[name] === false);
  }

  const allowed = () => {
    const state = readState(siteKey);
    return { purpose: (k) => purposeAllowed(k, state), cookie: (n) => cookieAllowed(n, state), of: (n) => cached.cookies[n] };
  };

  /* Tell the page what is allowed: Consent Mode (an update after a decision, `stored` false;
     what changed once the config arrived, `stored` null), the blocked content, and the event
     (not for the config's arrival). */
  function signal(state, stored) {
    if (consentModeOn() && defaulted) {
      if (stored === false) {
        consentMode.update(cmSettings(), (k) => purposeAllowed(k, state));
      } else if (stored === null) {
        consentMode.refresh(cmSettings(), (k) => purposeAllowed(k, state));
      }
    }
    blocking.activate(allowed(), config ? placeholderFactory(config, allowPurpose) : null);
    if (state && stored !== null) {
      document.dispatchEvent(new CustomEvent(EVENT, {
        detail: {
          decisions: state.decisions,
          cookies: state.cookies,
          method: state.method,
          receiptId: state.receipt_id,
          subjectId: state.subject_id,
          gpc: gpc,
          stored: stored
        }
      }));
    }
  }

  function loadConfig() {
    if (!configPromise) {
      const lang = (document.documentElement.getAttribute("lang") || "").toLowerCase().split("-")[0];
      const url = apiBase + "/v1/public/sites/" + encodeURIComponent(siteKey) + (lang ? "?lang=" + encodeURIComponent(lang) : "");
      configPromise = fetch(url, { credentials: "omit", headers: { Accept: "application/json" } })
        .then((response) => {
          if (!response.ok) { throw new Error("banner config answered " + response.status); }
          return response.json();
        })
        .then((body) => {
          config = body;
          cached = {
            necessary: body.purposes.filter((p) => p.strictly_necessary).map((p) => p.key),
            cookies: body.cookies.reduce((map, c) => { map[c.name] = c.purpose; return map; }, {}),
            consent_mode: body.settings.consent_mode
          };
          writeCached(siteKey, cached);
          if (consentModeOn() && !defaulted) {
            console.warn("consent_service: Consent Mode is on for this site; add data-consent-mode to the banner's " +
              "script tag and load it before Google's tags, so that the default comes first");
            consentMode.setDefault(body.settings.consent_mode, (k) => cached.necessary.indexOf(k) >= 0);
            defaulted = true;
            const stored = readState(siteKey);
            if (stored) { consentMode.update(body.settings.consent_mode, (k) => purposeAllowed(k, stored)); }
          }
          return body;
        }, (error) => {
          configPromise = null; // a later open() tries again
          throw error;
        });
    }
    return configPromise;
  }

  function currentChoice(state) {
    const choice = { purposes: {}, cookies: {}, gpc: false };
    choosable(config).forEach((p) => {
      choice.purposes[p.key] = !!(state && state.decisions[p.key] === true);
      // the notice: the browser's signal was applied to this purpose (it stays refused)
      if (gpc && p.honor_gpc && !choice.purposes[p.key]) { choice.gpc = true; }
    });
    config.cookies.forEach((c) => {
      choice.cookies[c.name] = choice.purposes[c.purpose] === true && !(state && state.cookies[c.name] === false);
    });
    return choice;
  }

  /* The dialog; focus moves into it and, when it closes, back to where it was (the floating
     button, the page's own "Privacy settings" link). The floating button hides meanwhile. */
  function show(view) {
    if (ui) { ui.remove(); }
    if (!returnFocus && document.activeElement !== document.body) { returnFocus = document.activeElement; }
    if (floating) { floating.hidden = true; }
    const notice = document.querySelector(".cs-toast"); // it would cover the dialog's buttons
    if (notice) { notice.remove(); }
    ui = dialog(config, currentChoice(readState(siteKey)), view, { decide: decide, close: close });
  }

  function close() {
    if (!ui) { return; }
    ui.remove();
    ui = null;
    placeFloatingButton();
    if (returnFocus && document.contains(returnFocus) && !returnFocus.hidden) { returnFocus.focus(); }
    returnFocus = null;
  }

  function placeFloatingButton() {
    if (floating && document.contains(floating)) {
      floating.hidden = false;
    } else if (config && config.settings.floating_button && choosable(config).length) {
      floating = floatingButton(config, () => { returnFocus = floating; open(); });
    }
  }

  /* What a method decides, purpose by purpose and cookie by cookie. GPC: "Accept all" leaves the
     honor_gpc purposes refused; only switching one on in the settings grants it (then "Accept
     all" and "Save choices" keep it). */
  function choose(method, read) {
    const purposes = {};
    const cookies = {};
    choosable(config).forEach((p) => {
      if (method === "accept_all") {
        purposes[p.key] = !(gpc && p.honor_gpc) || (read.settings === true && !!read.purposes[p.key]);
      } else if (method === "reject_all") {
        purposes[p.key] = false;
      } else {
        purposes[p.key] = !!read.purposes[p.key];
      }
    });
    config.cookies.forEach((c) => {
      if (c.purpose in purposes) {
        cookies[c.name] = method === "custom" ? purposes[c.purpose] && !!read.cookies[c.name] : purposes[c.purpose];
      }
    });
    return { purposes: purposes, cookies: cookies };
  }

  function decide(asked, preset) {
    const before = readState(siteKey);
    const chosen = preset || choose(asked, ui ? ui.read() : { purposes: {}, cookies: {} });
    // "Accept all" grants nothing the GPC signal refused (the service records such a grant as a
    // refusal); a purpose the person switched on in the settings is their own choice: custom
    const method = asked === "accept_all" && gpc && choosable(config).some((p) => p.honor_gpc && chosen.purposes[p.key])
      ? "custom"
      : asked;
    const decisions = Object.keys(chosen.purposes).map((k) => ({ purpose: k, granted: chosen.purposes[k] }));
    // a cookie gets its own decision when it differs from its purpose, or to lift an earlier refusal
    Object.keys(chosen.cookies).forEach((name) => {
      const own = chosen.cookies[name];
      const purpose = chosen.purposes[cached.cookies[name] || config.cookies.find((c) => c.name === name).purpose];
      if ((purpose && !own) || (own && before && before.cookies[name] === false)) {
        decisions.push({ cookie: name, granted: own });
      }
    });
    if (!decisions.length) { close(); return Promise.resolve(); }
    const t = config.texts;
    if (ui) { ui.busy(true); }
    return fetch(apiBase + "/v1/public/consents", {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-Site-Key": siteKey },
      body: JSON.stringify({
        subject: { type: "device_id", value: deviceId() },
        decisions: decisions,
        method: method,
        language: config.language,
        url: location.href.slice(0, 2000)
      })
    }).then((response) => response.json().catch(() => ({})).then((body) => {
      if (!response.ok) {
        console.error("consent_service:", response.status, body.detail || body.title || response.statusText);
        if (ui) { ui.busy(false); ui.fail(response.status === 429 ? t.rateLimited : t.error); }
        return;
      }
      remember(method, chosen, body, before);
    }), (error) => {
      console.error("consent_service:", error);
      if (ui) { ui.busy(false); ui.fail(t.error); }
    });
  }

  /* The decision on the device, over the one before: what was decided now is replaced (with the
     purpose's version and the time, which rules.js asks again by), the rest is kept. */
  function remember(method, chosen, body, before) {
    const now = new Date().toISOString();
    // on what is stored now: another decision may have landed while this one was sent
    const latest = readState(siteKey) || before;
    const keep = (name) => Object.assign({}, latest ? latest[name] : {});
    const state = {
      v: 2,
      decisions: Object.assign(keep("decisions"), chosen.purposes),
      cookies: keep("cookies"),
      versions: keep("versions"),
      decided: keep("decided"),
      valid_until: keep("valid_until"),
      gpc_denied: (latest && latest.gpc_denied || []).filter((k) => !(k in chosen.purposes)),
      method: method,
      receipt_id: body.receipt && body.receipt.payload ? body.receipt.payload.consentReceiptID : null,
      subject_id: body.subject_id || null,
      decided_at: now,
      gpc: gpc
    };
    Object.keys(chosen.cookies).forEach((name) => {
      if (chosen.cookies[name]) { delete state.cookies[name]; } else { state.cookies[name] = false; }
    });
    choosable(config).filter((p) => p.key in chosen.purposes).forEach((p) => {
      state.versions[p.key] = p.version;
      state.decided[p.key] = now;
      delete state.valid_until[p.key];
    });
    (body.events || []).forEach((e) => {
      if (e.purpose) {
        state.valid_until[e.purpose] = e.valid_until || null;
        if (e.method === "gpc") {
          // the service refused it for the browser's signal: decided now, like a refusal
          const p = config.purposes.find((x) => x.key === e.purpose);
          state.decisions[e.purpose] = false;
          state.decided[e.purpose] = now;
          if (p) { state.versions[e.purpose] = p.version; }
          state.gpc_denied.push(e.purpose);
        }
      }
    });
    // withdrawn: what was allowed before and is not now; its declared cookies are deleted
    const withdrawn = config.cookies.filter((c) => before && cookieAllowed(c.name, before) && !cookieAllowed(c.name, state));
    writeState(siteKey, state);
    blocking.deleteCookies(withdrawn);
    close();
    signal(state, false);
    // scripts that ran and are no longer allowed keep running until the page reloads
    if (blocking.stale(allowed()).length) {
      toast(config, config.texts.reloadOffer, true);
    } else {
      toast(config, config.texts.saved, false);
    }
  }

  /* A placeholder's "Allow": this purpose and its cookies granted; nothing else is decided anew.
     With GPC the service refuses each honor_gpc purpose a request leaves undecided, so the
     stored decisions of those go along unchanged. */
  function allowPurpose(key) {
    const state = readState(siteKey);
    const chosen = { purposes: {}, cookies: {} };
    choosable(config).forEach((p) => {
      if (gpc && p.honor_gpc && state && p.key in state.decisions) { chosen.purposes[p.key] = state.decisions[p.key] === true; }
    });
    chosen.purposes[key] = true;
    config.cookies.forEach((c) => { if (c.purpose === key) { chosen.cookies[c.name] = true; } });
    return decide("custom", chosen);
  }

  function open() {
    returnFocus = returnFocus || document.activeElement;
    return loadConfig().then(() => show("settings"), (error) => {
      console.error("consent_service: the banner settings could not be loaded:", error);
    });
  }

  window.ConsentService = {
    open: open,
    decisions: () => { const s = readState(siteKey); return s ? s.decisions : null; },
    allowed: (purpose) => purposeAllowed(purpose),
    cookieAllowed: (name) => cookieAllowed(name),
    deviceId: deviceId,
    gpc: gpc,
    /* Resolves once the banner has decided whether to ask: {shown: bool, due?: [keys], error?: string}. */
    ready: new Promise((resolve) => { settle = resolve; })
  };

  function begin() {
    const state = readState(siteKey);
    signal(state, true); // load what was allowed without waiting for the network
    loadConfig().then(() => {
      signal(readState(siteKey), null); // the config knows more (necessary purposes, placeholders); no new event
      if (consentModeOn()) {
        if (!config.settings.consent_mode.enabled) {
          console.warn("consent_service: the script tag has data-consent-mode, but Consent Mode is off in the site's " +
            "banner settings; turn it on there (with a mapping of purposes to consent types) or remove the attribute");
        }
        consentMode.checkBasic(config.settings.consent_mode);
      }
      blocking.watch(allowed, placeholderFactory(config, allowPurpose));
      const asked = due(config, readState(siteKey), new Date(), gpc).map((p) => p.key);
      if (asked.length) { show("first"); } else { placeFloatingButton(); }
      settle({ shown: asked.length > 0, due: asked });
    }, (error) => {
      console.error("consent_service: the banner config could not be loaded:", error);
      settle({ shown: false, error: String(error) });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", begin);
  } else {
    begin();
  }
}
