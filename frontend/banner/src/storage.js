// What the banner keeps on the device: a random device id and the last decision per site.
// localStorage when the browser allows it, else memory for this page only.

const DEVICE_KEY = "consent_service.device_id";
const STATE_PREFIX = "consent_service.consent.";
const memory = {};

function get(key) {
  // what could not be stored (quota, some private modes) is kept in memory for this page
  if (key in memory) { return memory[key]; }
  try { return window.localStorage.getItem(key); } catch (e) { return null; }
}

function set(key, value) {
  try {
    window.localStorage.setItem(key, value);
    delete memory[key];
  } catch (e) {
    memory[key] = value;
  }
}

function randomId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.prototype.map.call(bytes, (b) => ("0" + b.toString(16)).slice(-2)).join("");
}

export function deviceId() {
  let id = get(DEVICE_KEY);
  if (!id) {
    id = randomId();
    set(DEVICE_KEY, id);
  }
  return id;
}

/* The stored state of a site, in the current shape (older stored decisions are read too). */
export function readState(siteKey) {
  let state;
  try { state = JSON.parse(get(STATE_PREFIX + siteKey) || "null"); } catch (e) { return null; }
  if (!state || typeof state.decisions !== "object" || state.decisions === null) { return null; }
  state.cookies = state.cookies || {};
  state.versions = state.versions || {};
  state.valid_until = state.valid_until || {};
  if (!state.decided) {
    state.decided = {};
    Object.keys(state.decisions).forEach((k) => { state.decided[k] = state.decided_at; });
  }
  return state;
}

export function writeState(siteKey, state) {
  set(STATE_PREFIX + siteKey, JSON.stringify(state));
}

/* Settings the page needs before the config arrives (Consent Mode's default). */
export function readCached(siteKey) {
  try { return JSON.parse(get(STATE_PREFIX + siteKey + ".settings") || "null"); } catch (e) { return null; }
}

export function writeCached(siteKey, value) {
  set(STATE_PREFIX + siteKey + ".settings", JSON.stringify(value));
}
