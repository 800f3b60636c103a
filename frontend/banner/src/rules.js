// When the banner asks (again): per purpose that needs a choice.
//  - never decided, or a new purpose on offer;
//  - a grant: when its consent expires (valid_until), when the purpose changed materially (new
//    version), at the latest after the site's reask_after (at most 13 months);
//  - a refusal: not before the site's refusal_reask period (default 6 months) has passed, unless
//    the person opens the settings themselves;
//  - a refusal the browser's GPC signal asked for: not while the signal is on.

/* The date `iso` plus an ISO 8601 duration such as P6M, P13M, P1Y2M10D, PT12H, in calendar
   units as the service counts them: years and months first, the day kept but not past the end
   of the month (31 January + P1M is the end of February), then weeks, days and the time. */
export function addDuration(iso, duration) {
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(duration || "");
  const date = new Date(iso);
  if (!m || !m.slice(1).some(Boolean) || isNaN(date.getTime())) { return null; }
  const n = (i) => parseInt(m[i] || "0", 10);
  const months = date.getUTCMonth() + 12 * n(1) + n(2);
  const year = date.getUTCFullYear() + Math.floor(months / 12);
  const month = months % 12;
  const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  date.setUTCFullYear(year, month, Math.min(date.getUTCDate(), last));
  date.setUTCDate(date.getUTCDate() + 7 * n(3) + n(4));
  date.setUTCHours(date.getUTCHours() + n(5), date.getUTCMinutes() + n(6), date.getUTCSeconds() + n(7));
  return date;
}

/* The purposes that need a choice in the banner: every purpose not strictly necessary. */
export function choosable(config) {
  return config.purposes.filter((p) => !p.strictly_necessary);
}

/* Why a purpose must be asked now (a short word for tests and the console), or null. */
export function dueReason(purpose, state, settings, now, gpc) {
  if (!state || !(purpose.key in state.decisions)) { return "undecided"; }
  const decided = state.decided[purpose.key] || state.decided_at;
  if (state.decisions[purpose.key]) {
    const until = state.valid_until[purpose.key];
    if (until && now >= new Date(until)) { return "expired"; }
    if (state.versions[purpose.key] !== purpose.version) { return "changed"; }
    const latest = addDuration(decided, settings.reask_after || "P13M");
    if (!latest || now >= latest) { return "reask_after"; }
    return null;
  }
  if (gpc && purpose.honor_gpc) { return null; }
  const again = addDuration(decided, settings.refusal_reask || "P6M");
  return !again || now >= again ? "refusal_reask" : null;
}

/* The purposes to ask for now; the banner shows when there is any. */
export function due(config, state, now, gpc) {
  return choosable(config).filter((p) => dueReason(p, state, config.settings || {}, now, gpc) !== null);
}
