// Nothing runs before consent: scripts, iframes and images marked with data-consent (one or more
// purpose keys) and/or data-consent-cookie (a cookie name: its purpose and the cookie itself must
// be allowed) load only once allowed, scripts one after another in document order, without a reload.
//   <script type="text/plain" data-consent="analytics" data-src="https://…"></script>
//   <script type="text/plain" data-consent="analytics">inline code</script>
//   <iframe data-consent="ads" data-src="https://…"></iframe>   <img data-consent="ads" data-src="…">
// A blocked iframe or image gets a placeholder that says why and offers to allow its purpose; one
// that loaded and whose consent is withdrawn is unloaded again. A script that ran cannot be
// stopped: stale() tells that the page needs a reload.

const MARKED = "[data-consent],[data-consent-cookie]";
const SELECTOR = ["script[type='text/plain']", "iframe[data-src]", "img[data-src]"]
  .map((tag) => MARKED.split(",").map((m) => tag + m).join(",")).join(",");
const DONE = "data-consent-done";
const SKIP = ["type", "data-src", "data-type", DONE];
const ran = [];
const boxes = new WeakMap();
let queue = Promise.resolve();
let current = null; // the permissions of the latest activate(): a queued script checks them when its turn comes

function purposesOf(node) {
  return (node.getAttribute("data-consent") || "").split(/\s+/).filter(Boolean);
}

/* Whether `node` may load; `allowed`: {purpose(key), cookie(name), of(cookie name)}. */
function allowedFor(node, allowed) {
  const cookie = node.getAttribute("data-consent-cookie");
  return purposesOf(node).every((key) => allowed.purpose(key)) && (!cookie || allowed.cookie(cookie));
}

/* The purpose whose consent would release `node` (the first one missing). */
function missing(node, allowed) {
  const cookie = node.getAttribute("data-consent-cookie");
  return purposesOf(node).find((key) => !allowed.purpose(key)) || (cookie && allowed.of(cookie)) || purposesOf(node)[0];
}

function runScript(node) {
  return new Promise((resolve) => {
    const script = document.createElement("script");
    Array.from(node.attributes).forEach((attr) => {
      if (SKIP.indexOf(attr.name) < 0) { script.setAttribute(attr.name, attr.value); }
    });
    const type = node.getAttribute("data-type");
    if (type) { script.type = type; }
    const src = node.getAttribute("data-src") || node.getAttribute("src");
    if (src) {
      script.onload = script.onerror = () => resolve();
      script.src = src;
    } else {
      script.text = node.text;
    }
    ran.push(node);
    node.parentNode.insertBefore(script, node.nextSibling); // an inline script runs here
    if (!src) { resolve(); }
  });
}

function block(node, allowed, placeholder) {
  if (node.hasAttribute(DONE)) { // loaded before, withdrawn now: unload it
    node.removeAttribute(DONE);
    if (node.tagName === "IFRAME") { node.setAttribute("src", "about:blank"); } else { node.removeAttribute("src"); }
  }
  if (!placeholder || !node.parentNode) { return; }
  const key = missing(node, allowed);
  const old = boxes.get(node);
  if (old && old.isConnected && old.getAttribute("data-consent-placeholder") === key) { return; }
  if (old) { old.remove(); }
  const box = placeholder(key);
  box.setAttribute("data-consent-placeholder", key);
  node.parentNode.insertBefore(box, node);
  boxes.set(node, box);
  node.hidden = true;
}

function release(node) {
  const box = boxes.get(node);
  if (box) { box.remove(); boxes.delete(node); }
  node.setAttribute(DONE, "");
  node.hidden = false;
  node.setAttribute("src", node.getAttribute("data-src"));
}

/* Load what is allowed now (scripts one after another, in document order) and block what is not:
   blocked iframes and images get a placeholder from `placeholder(purposeKey)` (none while it is
   null). Returns a promise that settles when the released scripts have run. */
export function activate(allowed, placeholder) {
  current = allowed;
  Array.from(document.querySelectorAll(SELECTOR)).forEach((node) => {
    const ok = allowedFor(node, allowed);
    if (node.tagName === "SCRIPT") {
      if (ok && !node.hasAttribute(DONE)) {
        node.setAttribute(DONE, "");
        // withdrawn while an earlier script was still loading: it does not run
        queue = queue.then(() => (allowedFor(node, current) ? runScript(node) : node.removeAttribute(DONE)));
      }
    } else if (ok) {
      if (!node.hasAttribute(DONE)) { release(node); }
    } else {
      block(node, allowed, placeholder);
    }
  });
  return queue;
}

/* Keep blocking what the page adds later (single-page apps, late widgets): `allowed()` gives
   the current permissions. */
export function watch(allowed, placeholder) {
  if (!window.MutationObserver) { return; }
  new MutationObserver((records) => {
    const added = records.some((r) => Array.from(r.addedNodes).some((n) => n.nodeType === 1 && !n.hasAttribute("data-consent-placeholder")));
    if (added) { activate(allowed(), placeholder); }
  }).observe(document.documentElement, { childList: true, subtree: true });
}

/* The scripts that ran on this page and are no longer allowed: only a reload stops them. */
export function stale(allowed) {
  return ran.filter((node) => !allowedFor(node, allowed));
}

/* Delete first-party cookies where they were declared: `cookies` [{name, domain, path}]. Each is
   expired at its path, as a host cookie and for its domain (with and without the leading dot);
   a domain that is not the page's own is refused by the browser, which is harmless. */
export function deleteCookies(cookies) {
  cookies.forEach((c) => {
    const base = c.name + "=; Max-Age=0; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=" + (c.path || "/");
    document.cookie = base;
    const domain = (c.domain || "").replace(/^\./, "");
    if (domain) {
      document.cookie = base + "; domain=" + domain;
      document.cookie = base + "; domain=." + domain;
    }
  });
}
