// Nothing runs before consent: scripts, iframes and images marked with data-consent load only
// once their purpose (and, with data-consent-cookie, their cookie) is granted, in document order.
//   <script type="text/plain" data-consent="analytics" data-src="https://…"></script>
//   <script type="text/plain" data-consent="analytics">inline code</script>
//   <iframe data-consent="ads" data-src="https://…"></iframe>   <img data-consent="ads" data-src="…">
// A blocked iframe or image gets a placeholder that says why and offers to allow its purpose.

const SELECTOR = "script[type='text/plain'][data-consent],iframe[data-consent][data-src],img[data-consent][data-src]";
const DONE = "data-consent-done";
let ranScripts = false;
let queue = Promise.resolve();

function allowedFor(node, allowed) {
  const cookie = node.getAttribute("data-consent-cookie");
  return node.getAttribute("data-consent").split(/\s+/).filter(Boolean).every((key) => allowed.purpose(key)) &&
    (!cookie || allowed.cookie(cookie));
}

function runScript(node) {
  return new Promise((resolve) => {
    const script = document.createElement("script");
    for (const attr of Array.from(node.attributes)) {
      if (!["type", "data-src", "data-type", DONE].includes(attr.name)) { script.setAttribute(attr.name, attr.value); }
    }
    const type = node.getAttribute("data-type");
    if (type) { script.type = type; }
    const src = node.getAttribute("data-src") || node.getAttribute("src");
    node.setAttribute(DONE, "");
    if (src) {
      script.onload = script.onerror = () => resolve();
      script.src = src;
    } else {
      script.text = node.text;
    }
    node.parentNode.insertBefore(script, node.nextSibling);
    ranScripts = true;
    if (!src) { resolve(); }
  });
}

function placeholder(node, ui) {
  if (node.previousElementSibling && node.previousElementSibling.getAttribute("data-consent-placeholder") === node.getAttribute("data-consent")) {
    return;
  }
  const box = ui.placeholder(node.getAttribute("data-consent").split(/\s+/)[0]);
  box.setAttribute("data-consent-placeholder", node.getAttribute("data-consent"));
  node.parentNode.insertBefore(box, node);
  node.hidden = true;
}

/* Load what is allowed now (scripts one after another, in document order); blocked iframes and
   images get a placeholder. Returns a promise that settles when the scripts have run. */
export function activate(allowed, ui) {
  const nodes = Array.from(document.querySelectorAll(SELECTOR)).filter((n) => !n.hasAttribute(DONE));
  nodes.forEach((node) => {
    const ok = allowedFor(node, allowed);
    if (node.tagName === "SCRIPT") {
      if (ok) {
        node.setAttribute(DONE, "");
        queue = queue.then(() => runScript(node));
      }
      return;
    }
    if (ok) {
      const box = node.previousElementSibling;
      if (box && box.hasAttribute("data-consent-placeholder")) { box.remove(); }
      node.setAttribute(DONE, "");
      node.hidden = false;
      node.setAttribute("src", node.getAttribute("data-src"));
    } else if (ui) {
      placeholder(node, ui);
    }
  });
  return queue;
}

/* Keep blocking what the page adds later (single-page apps, late widgets). */
export function watch(allowed, ui) {
  if (!window.MutationObserver) { return; }
  new MutationObserver((records) => {
    if (records.some((r) => Array.from(r.addedNodes).some((n) => n.nodeType === 1))) { activate(allowed(), ui); }
  }).observe(document.documentElement, { childList: true, subtree: true });
}

/* Whether a script that consent allowed has already run on this page (a withdrawal needs a reload). */
export function scriptsRan() {
  return ranScripts;
}

/* Delete the first-party cookies declared for what was withdrawn, where they were set. */
export function deleteCookies(cookies) {
  cookies.forEach((c) => {
    const base = encodeURIComponent(c.name) + "=; Max-Age=0; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=" + (c.path || "/");
    document.cookie = base;
    if (c.domain) { document.cookie = base + "; domain=" + c.domain; }
  });
}
