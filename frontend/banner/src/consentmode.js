// Google Consent Mode v2. What the banner pushes to window.dataLayer, in this order:
//   1. gtag('consent', 'default', {...}) synchronously while the banner script runs, so before
//      any Google tag command of the page: every type denied except those the site maps to
//      strictly necessary purposes only, with wait_for_update and (when set) region;
//      then gtag('set', 'ads_data_redaction', true) and gtag('set', 'url_passthrough', true)
//      when the site turns them on;
//   2. gtag('consent', 'update', {...}) with all seven types from the stored choice, right after
//      the default on a page load of a device that has decided, and after every decision;
//   3. when the site's settings arrive and differ from what the default was set with (the first
//      page a device sees knows none of them yet): an update of just the types that differ and a
//      'set' of what changed, never an update that denies what the default left alone.
// A type is granted when each purpose the site maps it to is granted (a strictly necessary
// purpose always is); a type the site maps to nothing is denied.

export const TYPES = [
  "ad_storage", "analytics_storage", "ad_user_data", "ad_personalization",
  "functionality_storage", "personalization_storage", "security_storage"
];
const SETS = ["ads_data_redaction", "url_passthrough"];

// what dataLayer has been told: the consent state per type and the 'set' values
let told = null;

function gtag() {
  window.dataLayer = window.dataLayer || [];
  // gtag.js reads the arguments object itself, not an array
  // eslint-disable-next-line prefer-rest-params
  window.dataLayer.push(arguments);
}

/* {type: "granted" | "denied"} for `granted(purposeKey)`. */
export function states(cm, granted) {
  const out = {};
  TYPES.forEach((type) => {
    const keys = (cm.mapping || {})[type];
    out[type] = keys && keys.length && keys.every(granted) ? "granted" : "denied";
  });
  return out;
}

/* The default, before the page's Google tags; `necessary(key)`: whether a purpose is strictly
   necessary (its types are granted from the start). */
export function setDefault(cm, necessary) {
  const early = (window.dataLayer || []).filter((entry) => entry && entry[0] !== "consent" && entry[0] !== "set");
  if (early.length) {
    console.warn("consent_service: Google tag commands ran before the Consent Mode default; load the banner script " +
      "first, without defer or async (see docs/banner.md)");
  }
  const types = states(cm, necessary);
  const doc = Object.assign({}, types, { wait_for_update: cm.wait_for_update });
  if (cm.regions && cm.regions.length) { doc.region = cm.regions.slice(); }
  gtag("consent", "default", doc);
  told = { types: types, sets: {} };
  SETS.forEach((name) => {
    told.sets[name] = !!cm[name];
    if (cm[name]) { gtag("set", name, true); }
  });
}

/* The update from a choice: every type, `granted(key)` saying whether a purpose is granted. */
export function update(cm, granted) {
  const types = states(cm, granted);
  gtag("consent", "update", types);
  if (told) { told.types = types; }
}

/* The site's settings arrived: tell dataLayer what differs from what it was told (the types a
   stricter default denied, the 'set' values), nothing when all is as told. */
export function refresh(cm, granted) {
  if (!told) { return; }
  const types = states(cm, granted);
  const changed = {};
  TYPES.forEach((type) => { if (types[type] !== told.types[type]) { changed[type] = types[type]; } });
  if (Object.keys(changed).length) {
    gtag("consent", "update", changed);
    told.types = types;
  }
  SETS.forEach((name) => {
    if (!!cm[name] !== told.sets[name]) {
      gtag("set", name, !!cm[name]);
      told.sets[name] = !!cm[name];
    }
  });
}

/* Basic mode: Google's tags wait for consent, so a tag the page loads unblocked is a mistake. */
export function checkBasic(cm) {
  if (cm.mode !== "basic") { return; }
  // the banner's own copies of released tags keep their data-consent attribute
  const loose = Array.from(document.querySelectorAll("script[src*='googletagmanager.com']"))
    .filter((s) => s.type !== "text/plain" && !s.hasAttribute("data-consent"));
  if (loose.length) {
    console.warn("consent_service: Consent Mode is basic for this site, but a Google tag loads before consent; " +
      "mark it <script type=\"text/plain\" data-consent=\"…\" data-src=\"…\"> (see docs/banner.md)");
  }
}
