// Google Consent Mode v2: the default before any Google tag runs, an update on every decision
// and on each page load from the stored choice. A consent type is granted when each purpose the
// site maps it to is granted (a strictly necessary purpose always is); unmapped types are denied.

export const TYPES = [
  "ad_storage", "analytics_storage", "ad_user_data", "ad_personalization",
  "functionality_storage", "personalization_storage", "security_storage"
];

function gtag() {
  window.dataLayer = window.dataLayer || [];
  // gtag.js reads the arguments object itself, not an array
  // eslint-disable-next-line prefer-rest-params
  window.dataLayer.push(arguments);
}

function types(cm, granted) {
  const out = {};
  TYPES.forEach((type) => {
    const keys = (cm.mapping || {})[type];
    out[type] = keys && keys.length && keys.every(granted) ? "granted" : "denied";
  });
  return out;
}

/* The default: every type denied (with wait_for_update), before the site's Google tags. */
export function setDefault(cm) {
  const doc = Object.assign(types(cm, () => false), { wait_for_update: cm.wait_for_update });
  if (cm.regions && cm.regions.length) { doc.region = cm.regions.slice(); }
  gtag("consent", "default", doc);
  if (cm.ads_data_redaction) { gtag("set", "ads_data_redaction", true); }
  if (cm.url_passthrough) { gtag("set", "url_passthrough", true); }
}

/* The update from the decisions; `granted(key)` says whether a purpose is granted. */
export function update(cm, granted) {
  gtag("consent", "update", types(cm, granted));
}
