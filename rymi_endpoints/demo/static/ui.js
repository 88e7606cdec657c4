// DOM and storage helpers: what the page shows and what it remembers.
// The token lives in sessionStorage only (gone when the tab closes, never in
// localStorage); the harmless preferences (prompt, voice, format, mode) in localStorage.

const $ = (id) => document.getElementById(id);
export { $ };

const TOKEN_KEY = "rymi-demo-token";
const PREFS_KEY = "rymi-demo-prefs";
export const DEFAULT_PROMPT = "You are a friendly phone agent for Acme. Answer in one or "
  + "two short sentences of plain spoken English, with no lists or markdown.";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function authHeaders() {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

export function loadPrefs() {
  const prefs = JSON.parse(localStorage.getItem(PREFS_KEY) || "{}");
  $("prompt").value = prefs.prompt || DEFAULT_PROMPT;
  if (prefs.format) $("format").value = prefs.format;
  if (prefs.mode) $("mode").value = prefs.mode;
  $("endpointing").value = prefs.endpointing || "";
  $("language").value = prefs.language || "";
  $("stt-model").value = prefs.sttModel || "";
  return prefs;
}

export function savePrefs() {
  localStorage.setItem(PREFS_KEY, JSON.stringify({
    prompt: $("prompt").value, voice: $("voice").value, format: $("format").value,
    mode: $("mode").value, endpointing: $("endpointing").value, language: $("language").value,
    sttModel: $("stt-model").value,
  }));
}

/** The STT URL options (CONTRACT.md: per-agent options in the query string). */
export function sttQuery() {
  const q = new URLSearchParams();
  if ($("endpointing").value) q.set("endpointing_ms", $("endpointing").value);
  if ($("language").value.trim()) q.set("language", $("language").value.trim());
  if ($("stt-model").value) q.set("model", $("stt-model").value);
  return q.toString();
}

export function status(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

export function addMessage(role, text) {
  const el = document.createElement("div");
  el.className = `msg ${role}`;
  el.textContent = text;
  $("log").append(el);
  el.scrollIntoView({ block: "end" });
  return el;
}

export function setInterim(text) {
  $("interim").textContent = text ? `${text}…` : "";
}

export function showServers(found, why = "") {
  for (const li of document.querySelectorAll("#servers li")) {
    const s = found[li.dataset.server];
    li.className = s?.ready ? "up" : "down";
    li.title = s ? `${s.url}: ${s.ready ? "ready" : s.error || `status ${s.status}`}` : why;
  }
}

export function fillVoices(body, saved) {
  const select = $("voice");
  select.replaceChildren();
  for (const v of body.data || []) {
    const opt = new Option(`${v.id} (${v.language})`, v.id);
    opt.title = v.description || "";
    select.append(opt);
  }
  select.value = [...select.options].some((o) => o.value === saved) ? saved : body.default;
}

const ms = (from, to) => (from && to ? String(Math.round(to - from)) : "–");

/** One row per turn, updated in place as its numbers come in. */
export function renderTurn(turn) {
  if (!turn.row) {
    turn.row = document.createElement("tr");
    $("latency").tBodies[0].prepend(turn.row);
  }
  const cells = [turn.id, ms(turn.speechEndAt, turn.finalAt),
    ms(turn.speechEndAt, turn.firstTokenAt), ms(turn.speechEndAt, turn.firstAudioAt),
    turn.tokens ?? "–", turn.state];
  turn.row.replaceChildren(...cells.map((c) => {
    const td = document.createElement("td");
    td.textContent = c;
    return td;
  }));
}

export function showStats(s) {
  $("stats").textContent = `mic sent ${(s.sttBytes / 32000).toFixed(1)} s of audio · `
    + `TTS received ${(s.pcmBytes / 1024).toFixed(0)} KiB PCM in ${s.buffers} buffers · `
    + `barge-ins ${s.bargeIns}`;
}
