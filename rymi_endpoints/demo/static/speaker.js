// Speaks one agent answer clause by clause: a POST /tts per clause, the PCM of each
// played in order as it streams. The next clause's request is sent while the current one
// plays (one ahead, not all at once, so a long answer does not flood the TTS queue).

import { errorOf } from "./llm.js";

export class Speaker {
  constructor({ player, voice, format, headers, signal, onFirstAudio, onError }) {
    Object.assign(this, { player, voice, format, headers, signal, onFirstAudio, onError });
    this.rate = Number(format.split("_")[1]);
    this.texts = [];
    this.closed = false; // no more clauses will come (the LLM finished)
    this.wake = null;
    this.firstAudioAt = null;
    this.done = this.run();
  }

  say(text) {
    this.texts.push(text);
    this.wake?.();
  }

  close() {
    this.closed = true;
    this.wake?.();
  }

  request(text) {
    const sent = fetch("/tts", {
      method: "POST",
      headers: { ...this.headers, "Content-Type": "application/json" },
      body: JSON.stringify({ text, voice: this.voice || undefined, format: this.format }),
      signal: this.signal,
    });
    sent.catch(() => {}); // a barge-in aborts requests not awaited yet: not an error
    return sent;
  }

  async nextText() {
    while (!this.texts.length && !this.closed) {
      await new Promise((resolve) => { this.wake = resolve; });
      this.wake = null;
    }
    return this.texts.shift() ?? null;
  }

  async run() {
    try {
      let text = await this.nextText();
      let pending = text === null ? null : this.request(text);
      while (pending) {
        const current = pending;
        pending = this.texts.length ? this.request(this.texts.shift()) : null;
        await this.play(await current);
        if (!pending) {
          text = await this.nextText();
          pending = text === null ? null : this.request(text);
        }
      }
    } catch (err) {
      if (err.name !== "AbortError") this.onError(err);
    }
  }

  async play(resp) {
    if (!resp.ok) throw new Error(`TTS ${await errorOf(resp)}`);
    const reader = resp.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (this.signal.aborted) return;
      const at = this.player.push(value, this.rate);
      if (at !== null && this.firstAudioAt === null) {
        this.firstAudioAt = at;
        this.onFirstAudio(at);
      }
    }
    this.player.endOfStream();
  }
}
