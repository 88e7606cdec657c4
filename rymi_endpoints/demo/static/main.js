// The demo's conversation loop: microphone -> STT -> (utterance_end) -> LLM stream ->
// clauses -> TTS -> gapless playback, with barge-in and a latency row per turn.

import { ClauseSplitter, forSpeech } from "./clauses.js";
import { errorOf, streamChat } from "./llm.js";
import { Microphone } from "./mic.js";
import { PcmPlayer } from "./player.js";
import { Speaker } from "./speaker.js";
import { SttSocket } from "./stt.js";
import * as ui from "./ui.js";

const { $ } = ui;
const HISTORY_MESSAGES = 8; // the default LLM has a small context: keep the last few turns
const RATES = [8000, 16000, 22050, 24000, 44100, 48000];

const app = {
  ctx: null, mic: null, player: null, stt: null, model: "default",
  history: [], heard: "", carry: "", speechEndAt: 0, finalAt: 0, turn: null, turns: [],
  talking: false, bargeIns: 0,
};
// Read by the browser test (and handy in the console): counters, not internals.
window.rymiDemo = {
  stats: () => ({
    pcmBytes: app.player?.stats.bytes ?? 0, buffers: app.player?.stats.buffers ?? 0,
    sttBytes: app.stt?.sentBytes ?? 0, bargeIns: app.bargeIns,
    audioState: app.ctx?.state ?? "none", playing: app.player?.playing ?? false,
  }),
  turns: () => app.turns.map(({ row, controller, agentEl, ...t }) => t),
};

const handsFree = () => $("mode").value === "hands-free";

async function refresh() {
  try {
    ui.showServers(await (await fetch("/demo/servers")).json());
  } catch { // the demo app itself is gone (make run stopped): so is every server to it
    ui.showServers({}, "the demo console is unreachable");
  }
}

async function loadCatalog(prefs) {
  const headers = ui.authHeaders();
  const voices = await fetch("/voices", { headers });
  if (voices.status === 401) {
    ui.status("The servers ask for a bearer token: enter it above and press Use.", true);
    return;
  }
  if (voices.ok) ui.fillVoices(await voices.json(), prefs.voice);
  else ui.status(`voices: ${await errorOf(voices)}`, true);
  const models = await fetch("/v1/models", { headers });
  if (models.ok) app.model = (await models.json()).data?.[0]?.id || app.model;
  else ui.status(`models: ${await errorOf(models)}`, true);
}

function format() {
  const chosen = $("format").value;
  if (chosen !== "auto") return chosen;
  // Matching the AudioContext's rate means the browser plays the samples as they are.
  const rate = app.ctx?.sampleRate;
  return RATES.includes(rate) ? `pcm_${rate}` : "pcm_24000";
}

async function start() {
  $("start").disabled = true;
  // The session this call starts: the server may refuse it (a wrong token: error event,
  // close) while the page still waits for the microphone, and stop() has then run.
  let stt = null;
  let mic = null;
  const current = () => stt !== null && app.stt === stt;
  try {
    app.ctx = new AudioContext(); // created on a click: allowed to play sound
    await app.ctx.resume();
    app.player = new PcmPlayer(app.ctx);
    app.sttError = null;
    stt = app.stt = new SttSocket({ token: ui.token(), query: ui.sttQuery(),
                                    onEvent: onSttEvent, onClose: onSttClose });
    await stt.opened;
    if (!current()) return;
    mic = app.mic = new Microphone(app.ctx, (pcm) => {
      if (handsFree() || app.talking) stt.sendAudio(pcm);
    });
    await mic.start();
    if (!current()) {
      mic.stop(); // granted after the session ended: the recording light goes off
      return;
    }
    ui.status(handsFree() ? "Listening: just talk." : "Hold the button (or Space) to talk.");
    $("start").textContent = "Stop";
    $("talk").disabled = handsFree();
  } catch (err) {
    mic?.stop();
    if (current() || stt === null) { // else the close already said why (its error event)
      ui.status(`could not start: ${err.message}`, true);
      stop();
    }
  } finally {
    $("start").disabled = false;
  }
}

function stop() {
  bargeIn(false);
  app.mic?.stop();
  app.stt?.close();
  app.ctx?.close();
  Object.assign(app, { mic: null, stt: null, ctx: null, heard: "", carry: "" });
  $("start").textContent = "Start";
  $("talk").disabled = true;
  ui.setInterim("");
}

function onSttClose(event) {
  if (!app.stt) return; // we closed it
  // Keep the error event's message (it says why) rather than the bare close code.
  if (event.code !== 1000 && !app.sttError) {
    ui.status(`STT closed (${event.code}) ${event.reason}`, true);
  }
  stop();
}

function onSttEvent(event) {
  switch (event.type) {
    case "speech_started":
      if (app.turn) bargeIn(true); // the caller talks over the agent: stop it now
      break;
    case "interim":
      ui.setInterim(event.text);
      break;
    case "final": {
      ui.setInterim("");
      app.finalAt = performance.now();
      // Push-to-talk: the button's release; a turn the server ended while the button is
      // still held (a pause) is timed as hands-free, from the last loud mic frame (it
      // was timed from the release before, growing with the hold).
      if (handsFree() || app.talking) {
        app.speechEndAt = app.mic?.speechEndBefore(app.finalAt) ?? app.finalAt;
      }
      const text = event.text.trim();
      if (text) {
        ui.addMessage("user", text);
        app.heard = `${app.heard} ${text}`.trim();
      }
      break;
    }
    case "utterance_end":
      if (app.heard) {
        // Words of a turn cut off before the agent said anything are part of this one.
        const text = `${app.carry} ${app.heard}`.trim();
        app.heard = "";
        app.carry = "";
        respond(text);
      }
      break;
    case "error":
      app.sttError = event.message;
      ui.status(`STT: ${event.message}`, true);
      break;
  }
}

function bargeIn(counted) {
  const turn = app.turn;
  app.player?.stop();
  if (!turn) return;
  turn.controller.abort();
  turn.state = "interrupted";
  // Cut off before any audio: the caller was still talking (a pause, not a turn end), so
  // that text joins the next turn instead of leaving a question with no answer.
  if (turn.firstAudioAt === null) app.carry = `${app.carry} ${turn.user}`.trim();
  turn.agentEl?.classList.add("interrupted");
  ui.renderTurn(turn);
  app.turn = null;
  if (counted) app.bargeIns += 1;
}

async function respond(userText) {
  bargeIn(false);
  const turn = {
    id: app.turns.length + 1, user: userText, answer: "", state: "thinking", tokens: null,
    speechEndAt: app.speechEndAt || app.finalAt, finalAt: app.finalAt,
    firstTokenAt: null, firstAudioAt: null, controller: new AbortController(),
  };
  app.turns.push(turn);
  app.turn = turn;
  ui.renderTurn(turn);
  const headers = ui.authHeaders();
  const signal = turn.controller.signal;
  const speaker = new Speaker({
    player: app.player, voice: $("voice").value, format: format(), headers, signal,
    onFirstAudio: (at) => { turn.firstAudioAt = at; ui.renderTurn(turn); },
    onError: (err) => fail(turn, err),
  });
  const splitter = new ClauseSplitter();
  const messages = [{ role: "system", content: $("prompt").value },
    ...app.history.slice(-HISTORY_MESSAGES), { role: "user", content: userText }];
  try {
    for await (const part of streamChat({ messages, model: app.model, headers, signal })) {
      if (part.usage) turn.tokens = part.usage.completion_tokens;
      if (!part.content) continue;
      if (turn.firstTokenAt === null) {
        turn.firstTokenAt = performance.now();
        turn.state = "speaking";
        turn.agentEl = ui.addMessage("agent", "");
      }
      turn.answer += part.content;
      turn.agentEl.textContent = turn.answer;
      for (const clause of splitter.push(part.content)) speaker.say(forSpeech(clause));
      ui.renderTurn(turn);
    }
    for (const clause of splitter.flush()) speaker.say(forSpeech(clause));
    speaker.close();
    await speaker.done;
    if (turn.state === "speaking" || turn.state === "thinking") turn.state = "done";
  } catch (err) {
    if (err.name !== "AbortError") fail(turn, err);
  } finally {
    speaker.close();
    // History holds what the caller heard: an answer cut off before its first audio was
    // never heard (its question is carried into the next turn instead).
    if (turn.state !== "interrupted" || turn.firstAudioAt !== null) {
      app.history.push({ role: "user", content: userText },
        { role: "assistant", content: turn.answer.trim() || "(no answer)" });
    }
    if (app.turn === turn && !app.player?.playing) app.turn = null;
    ui.renderTurn(turn);
  }
}

function fail(turn, err) {
  turn.state = "error";
  ui.addMessage("agent error", err.message);
  ui.status(err.message, true);
  turn.controller.abort();
}

function talk(down) {
  if (handsFree() || !app.stt || down === app.talking) return;
  app.talking = down;
  $("talk").classList.toggle("held", down);
  if (!down) {
    app.speechEndAt = performance.now();
    app.stt.control("finalize"); // answered by exactly one final, then utterance_end
  } else if (app.turn) {
    bargeIn(true);
  }
}

function wire() {
  const prefs = ui.loadPrefs();
  $("token").value = ui.token();
  $("save-token").onclick = () => {
    ui.setToken($("token").value.trim());
    ui.status(ui.token() ? "Token set for this tab." : "Token cleared.");
    loadCatalog(prefs);
  };
  for (const id of ["prompt", "voice", "format", "mode", "endpointing", "language", "stt-model"]) {
    $(id).onchange = ui.savePrefs;
  }
  $("mode").addEventListener("change", () => { $("talk").disabled = !app.stt || handsFree(); });
  $("start").onclick = () => (app.stt ? stop() : start());
  $("talk").onpointerdown = () => talk(true);
  $("talk").onpointerup = $("talk").onpointerleave = () => talk(false);
  window.addEventListener("keydown", (e) => {
    if (e.code === "Space" && e.target === document.body) { e.preventDefault(); talk(true); }
  });
  window.addEventListener("keyup", (e) => { if (e.code === "Space") talk(false); });
  setInterval(() => {
    if (app.mic) $("level").value = app.mic.level;
    ui.showStats(window.rymiDemo.stats());
    // The turn is over once its audio has finished playing: barge-in no longer applies.
    const over = app.turn && (app.turn.state === "done" || app.turn.state === "error");
    if (over && !app.player?.playing) app.turn = null;
  }, 100);
  refresh();
  setInterval(refresh, 5000);
  loadCatalog(prefs);
}

wire();
