// The banner's dialog: a first layer (Accept all and Reject all alike, Settings, policy links),
// a settings layer with a switch per purpose and per cookie, a floating button that reopens it,
// notices (saved, reload offer) and placeholders for blocked content.

const ROOT = "consent-service-banner";

const CSS =
  "#consent-service-banner,.cs-float,.cs-toast,.cs-placeholder{--cs-bg:#fff;--cs-text:#1f2328;--cs-accent:#0b5cd5;" +
  "font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;box-sizing:border-box;color:var(--cs-text)}" +
  "#consent-service-banner{position:fixed;left:1rem;right:1rem;bottom:1rem;z-index:2147483000;max-width:44rem;" +
  "margin:0 auto;max-height:calc(100vh - 2rem);overflow:auto;--cs-pad:1.5rem;padding:1.25rem var(--cs-pad);background:var(--cs-bg);" +
  "border:1px solid #8c959f;border-radius:10px;box-shadow:0 8px 30px rgba(0,0,0,.25)}" +
  "#consent-service-banner *,.cs-placeholder *{box-sizing:border-box}" +
  "#consent-service-banner:focus{outline:none}" +
  "#consent-service-banner h2{margin:0 2rem .5rem 0;font-size:1.15rem;font-weight:600}" +
  "#consent-service-banner p{margin:0 0 .75rem}" +
  "#consent-service-banner a{color:inherit}" +
  ".cs-actions{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:.75rem}" +
  "#consent-service-banner button,.cs-float,.cs-toast button,.cs-placeholder button{font:inherit;font-weight:600;" +
  "border-radius:6px;border:2px solid var(--cs-accent);cursor:pointer;padding:.55rem 1rem}" +
  ".cs-actions button{flex:1 1 10rem}" +
  // the settings' buttons stay in view while the list of purposes and cookies scrolls
  "[data-layer=settings] .cs-actions{position:sticky;bottom:-1.25rem;margin:.75rem calc(-1*var(--cs-pad)) 0;" +
  "padding:.75rem var(--cs-pad);background:var(--cs-bg);border-top:1px solid #d0d7de}" +
  "[data-layer=settings] .cs-actions button{flex-basis:8rem}" +
  ".cs-primary{background:var(--cs-accent);color:#fff}" +
  ".cs-secondary{background:var(--cs-bg);color:var(--cs-text)}" +
  "#consent-service-banner .cs-close{position:absolute;top:.5rem;right:.5rem;padding:.1rem .5rem;border-color:transparent;" +
  "background:transparent;color:var(--cs-text);font-size:1.3rem;line-height:1}" +
  "#consent-service-banner button:focus-visible,.cs-float:focus-visible,.cs-toast button:focus-visible," +
  ".cs-placeholder button:focus-visible,#consent-service-banner input:focus-visible,#consent-service-banner a:focus-visible" +
  "{outline:3px solid var(--cs-text);outline-offset:2px}" +
  "#consent-service-banner button[disabled]{opacity:.6;cursor:progress}" +
  ".cs-links{display:flex;flex-wrap:wrap;gap:0 1.25rem;margin:.75rem 0 0;font-size:.9rem}" +
  ".cs-links a{display:inline-block;padding:.3rem 0;min-height:24px}" +
  ".cs-notice{padding:.5rem .75rem;border-radius:6px;border:1px solid #8c959f;background:#f6f8fa;color:#1f2328}" +
  ".cs-error{background:#ffebe9;color:#82071e;border-color:#cf222e}" +
  ".cs-purpose{border-top:1px solid #d0d7de;padding:.6rem 0}" +
  ".cs-row{display:flex;gap:.75rem;align-items:flex-start}" +
  ".cs-row label{flex:1}" +
  ".cs-row input{width:2.2rem;height:1.2rem;margin:.15rem 0 0;flex:none;accent-color:var(--cs-accent)}" +
  ".cs-row small,.cs-cookie dd{display:block;margin:0}" +
  ".cs-badge{font-size:.85rem;font-weight:600;white-space:nowrap}" +
  ".cs-cookies{margin:.4rem 0 0 2.95rem;padding:0;list-style:none}" +
  ".cs-cookie{border-left:3px solid #d0d7de;padding:.3rem 0 .3rem .6rem;margin:.3rem 0}" +
  ".cs-cookie dl{margin:.2rem 0 0;display:grid;grid-template-columns:auto 1fr;gap:0 .6rem;font-size:.88rem}" +
  ".cs-cookie dt{font-weight:600}" +
  ".cs-float{position:fixed;left:1rem;bottom:1rem;z-index:2147482999;background:var(--cs-bg);color:var(--cs-text);" +
  "padding:.4rem .7rem;box-shadow:0 2px 8px rgba(0,0,0,.25)}" +
  ".cs-toast{position:fixed;left:1rem;right:1rem;bottom:1rem;z-index:2147483000;max-width:30rem;margin:0 auto;" +
  "padding:.75rem 1rem;background:var(--cs-bg);border:1px solid #8c959f;border-radius:8px;box-shadow:0 4px 16px rgba(0,0,0,.25)}" +
  ".cs-toast p{margin:0 0 .5rem}" +
  ".cs-placeholder{display:block;padding:1rem;border:1px dashed #57606a;border-radius:8px;background:var(--cs-bg);max-width:100%}" +
  ".cs-placeholder strong{display:block;margin-bottom:.25rem}" +
  ".cs-placeholder button,.cs-toast button{background:var(--cs-accent);color:#fff}" +
  "@media (max-width:30rem){#consent-service-banner{left:.5rem;right:.5rem;bottom:.5rem;max-height:calc(100vh - 1rem);" +
  "--cs-pad:1rem}.cs-cookies{margin-left:0}}" +
  // it slides in without fading, so that its texts have their full contrast from the first frame
  "@media (prefers-reduced-motion:no-preference){#consent-service-banner,.cs-toast{animation:cs-in .18s ease-out}" +
  "@keyframes cs-in{from{transform:translateY(.75rem)}to{transform:none}}}" +
  "#consent-service-banner [hidden],.cs-placeholder[hidden],.cs-float[hidden]{display:none!important}";

export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  Object.keys(attrs || {}).forEach((name) => {
    const value = attrs[name];
    if (value === null || value === undefined || value === false) { return; }
    if (name === "text") { node.textContent = value; } else { node.setAttribute(name, value === true ? "" : value); }
  });
  (children || []).forEach((child) => { if (child) { node.appendChild(child); } });
  return node;
}

function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in values ? values[name] : all));
}

/* "13 months", "1 year", "until the browser is closed" from an ISO 8601 duration. */
export function duration(value, t) {
  if (value === "session") { return t.cookieSession; }
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?/.exec(value || "");
  if (!m) { return value; }
  const parts = [];
  [[1, "year"], [2, "month"], [4, "day"]].forEach(([i, unit]) => {
    let n = parseInt(m[i] || "0", 10);
    if (i === 4) { n += 7 * parseInt(m[3] || "0", 10); }
    if (n) { parts.push(fill(t[n === 1 ? unit : unit + "s"], { n: n })); }
  });
  return parts.length ? parts.join(" ") : value;
}

function style(theme) {
  if (!document.getElementById("consent-service-style")) {
    document.head.appendChild(el("style", { id: "consent-service-style", text: CSS }));
  }
  const vars = theme ? "--cs-bg:" + theme.background + ";--cs-text:" + theme.text + ";--cs-accent:" + theme.accent : "";
  return vars;
}

function switchBox(id, name, checked, disabled, attrs) {
  const box = el("input", Object.assign({ type: "checkbox", role: "switch", id: id, name: name, disabled: disabled }, attrs));
  box.checked = checked;
  return box;
}

/* The dialog for `config`; `choice` says what is switched on (stored decision or defaults);
   `handlers`: decide(method), close(). */
export function dialog(config, choice, view, handlers) {
  const t = config.texts;
  const settings = config.settings || {};
  const vars = style(settings.theme);
  const cookiesOf = (key) => config.cookies.filter((c) => c.purpose === key);
  const rows = config.purposes.map((p) => {
    const necessary = p.strictly_necessary;
    const id = "cs-purpose-" + p.key;
    const box = switchBox(id, p.key, necessary || choice.purposes[p.key] === true, necessary, {
      "data-purpose": p.key, "aria-describedby": id + "-text"
    });
    const cookies = cookiesOf(p.key).map((c) => {
      const cid = "cs-cookie-" + p.key + "-" + c.name;
      const cbox = switchBox(cid, c.name, necessary || choice.cookies[c.name] === true, necessary, {
        "data-cookie": c.name, "data-of": p.key, "aria-describedby": cid + "-about"
      });
      return el("li", { "class": "cs-cookie" }, [
        el("div", { "class": "cs-row" }, [cbox, el("label", { "for": cid }, [el("strong", { text: c.name })])]),
        el("dl", { id: cid + "-about" }, [
          el("dt", { text: t.cookieProvider }), el("dd", { text: c.provider }),
          el("dt", { text: t.cookiePurpose }), el("dd", { text: c.text || p.title }),
          el("dt", { text: t.cookieDuration }), el("dd", { text: duration(c.duration, t) }),
          el("dt", { text: t.cookieDomain }), el("dd", { text: c.domain })
        ])
      ]);
    });
    return el("div", { "class": "cs-purpose" }, [
      el("div", { "class": "cs-row" }, [
        box,
        el("label", { "for": id }, [
          el("strong", { text: p.title }),
          necessary ? el("span", { "class": "cs-badge", text: " · " + t.alwaysOn }) : null,
          el("small", { id: id + "-text", text: p.description })
        ])
      ]),
      cookies.length ? el("ul", { "class": "cs-cookies", "aria-label": t.cookies + ": " + p.title }, cookies) : null
    ]);
  });
  const links = settings.links || {};
  const linkRow = el("p", { "class": "cs-links" }, [
    links.privacy ? el("a", { href: links.privacy, text: t.privacyPolicy }) : null,
    links.imprint ? el("a", { href: links.imprint, text: t.imprint }) : null
  ]);
  const error = el("p", { "class": "cs-notice cs-error", role: "alert", hidden: true });
  const gpcNote = choice.gpc ? el("p", { "class": "cs-notice", "data-notice": "gpc", text: t.gpcApplied }) : null;
  const button = (action, text, cls, extra) =>
    el("button", Object.assign({ type: "button", "class": cls, "data-action": action, text: text }, extra || {}));
  const accept = button("accept_all", t.accept, "cs-primary");
  const reject = button("reject_all", t.reject, "cs-primary");
  const openSettings = button("settings", t.settings, "cs-secondary", { "aria-controls": "consent-service-settings", "aria-expanded": "false" });
  const save = button("custom", t.save, "cs-secondary");
  const back = button("back", t.back, "cs-secondary");
  const first = el("div", { "class": "cs-layer", "data-layer": "first" }, [
    el("p", { id: "consent-service-intro", text: t.intro }),
    el("div", { "class": "cs-actions" }, [accept, reject, openSettings])
  ]);
  const second = el("div", { "class": "cs-layer", "data-layer": "settings", id: "consent-service-settings", hidden: true }, [
    el("fieldset", { style: "border:0;margin:0;padding:0" }, [el("legend", { "class": "cs-badge", text: t.purposes })].concat(rows)),
    el("div", { "class": "cs-actions" }, [save, button("accept_all", t.accept, "cs-primary"), button("reject_all", t.reject, "cs-primary"), back])
  ]);
  const close = button("close", "×", "cs-close", { "aria-label": t.close, title: t.close });
  const root = el("div", {
    id: ROOT, role: "dialog", "aria-modal": "false", "aria-labelledby": "consent-service-title",
    "aria-describedby": "consent-service-intro", tabindex: "-1", lang: config.language, style: vars
  }, [close, el("h2", { id: "consent-service-title", text: t.title }), gpcNote, first, second, error,
    links.privacy || links.imprint ? linkRow : null]);

  function show(layer, from) {
    const onSettings = layer === "settings";
    first.hidden = onSettings;
    second.hidden = !onSettings;
    openSettings.setAttribute("aria-expanded", onSettings ? "true" : "false");
    root.querySelector("h2").textContent = onSettings ? t.settingsTitle : t.title;
    const target = onSettings ? root.querySelector("input:not([disabled])") || save : accept;
    (from === "settings" ? openSettings : target).focus();
  }
  root.addEventListener("change", (event) => {
    const box = event.target;
    if (box.hasAttribute("data-purpose")) {
      root.querySelectorAll("input[data-of='" + box.getAttribute("data-purpose") + "']").forEach((c) => { c.checked = box.checked; });
    } else if (box.hasAttribute("data-cookie") && box.checked) {
      const purpose = root.querySelector("input[data-purpose='" + box.getAttribute("data-of") + "']");
      if (purpose) { purpose.checked = true; }
    }
  });
  root.addEventListener("click", (event) => {
    const target = event.target.closest ? event.target.closest("button[data-action]") : null;
    const action = target && target.getAttribute("data-action");
    if (action === "settings") { show("settings"); } else if (action === "back") { show("first", "settings"); } else if (action === "close") {
      handlers.close();
    } else if (action) { handlers.decide(action); }
  });
  root.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { handlers.close(); }
  });
  document.body.appendChild(root);
  show(view);
  const buttons = Array.from(root.querySelectorAll("button"));
  return {
    root: root,
    /* What the switches say: {purposes: {key: bool}, cookies: {name: bool}, settings: whether
       the settings layer (where the switches are seen) is open}. */
    read: () => {
      const out = { purposes: {}, cookies: {}, settings: !second.hidden };
      root.querySelectorAll("input[data-purpose]").forEach((b) => { out.purposes[b.getAttribute("data-purpose")] = b.checked; });
      root.querySelectorAll("input[data-cookie]").forEach((b) => { out.cookies[b.getAttribute("data-cookie")] = b.checked; });
      return out;
    },
    busy: (on) => {
      buttons.forEach((b) => { b.disabled = on; });
      root.setAttribute("aria-busy", on ? "true" : "false");
    },
    fail: (message) => {
      error.textContent = message;
      error.hidden = false;
      error.focus && error.setAttribute("tabindex", "-1");
    },
    remove: () => root.remove()
  };
}

/* The small button that reopens the settings (withdrawal as easy as consent). */
export function floatingButton(config, onOpen) {
  const vars = style(config.settings && config.settings.theme);
  let node = document.querySelector(".cs-float");
  if (node) { node.remove(); }
  node = el("button", { type: "button", "class": "cs-float", style: vars, lang: config.language, text: config.texts.reopen });
  node.addEventListener("click", onOpen);
  document.body.appendChild(node);
  return node;
}

/* A short notice: "saved", or the offer to reload after a withdrawal. */
export function toast(config, message, reload) {
  const vars = style(config.settings && config.settings.theme);
  const old = document.querySelector(".cs-toast");
  if (old) { old.remove(); }
  const node = el("div", { "class": "cs-toast", role: "status", style: vars, lang: config.language }, [
    el("p", { text: message }),
    reload ? el("button", { type: "button", "data-action": "reload", text: config.texts.reload }) : null
  ]);
  node.addEventListener("click", (event) => {
    if (event.target.getAttribute("data-action") === "reload") { window.location.reload(); }
  });
  document.body.appendChild(node);
  if (!reload) { setTimeout(() => node.remove(), 4000); }
  return node;
}

/* What stands in for a blocked iframe or image; its button allows the purpose. */
export function placeholderFactory(config, allow) {
  return (purposeKey) => {
    const t = config.texts;
    const purpose = config.purposes.find((p) => p.key === purposeKey);
    const title = purpose ? purpose.title : purposeKey;
    const vars = style(config.settings && config.settings.theme);
    const box = el("div", { "class": "cs-placeholder", style: vars, lang: config.language }, [
      el("strong", { text: t.blockedTitle }),
      el("p", { text: fill(t.blockedText, { purpose: title }) }),
      el("button", { type: "button", text: t.allowContent })
    ]);
    box.querySelector("button").addEventListener("click", () => allow(purposeKey));
    return box;
  };
}
