// Gapless playback of raw PCM16 LE mono as it streams in from the TTS server.
// Each network chunk becomes one AudioBuffer scheduled to start exactly where the previous
// one ends (on the AudioContext clock, not timers), so chunk boundaries are inaudible.

const LEAD_S = 0.04; // headroom when (re)starting from silence, so the first buffer is not late

export class PcmPlayer {
  /** @param {AudioContext} ctx */
  constructor(ctx) {
    this.ctx = ctx;
    this.out = ctx.createGain();
    this.out.connect(ctx.destination);
    this.nextTime = 0;
    this.sources = new Set();
    this.carry = null; // an odd trailing byte: a sample split across two network chunks
    this.stats = { bytes: 0, buffers: 0, stops: 0 };
    this.onIdle = null; // called when the last scheduled buffer has finished playing
  }

  get playing() {
    return this.sources.size > 0;
  }

  /** Queue PCM bytes at `rate` Hz; returns when (performance.now() ms) they will sound. */
  push(bytes, rate) {
    this.stats.bytes += bytes.byteLength;
    if (this.carry) {
      const joined = new Uint8Array(bytes.byteLength + 1);
      joined[0] = this.carry[0];
      joined.set(bytes, 1);
      bytes = joined;
      this.carry = null;
    }
    const samples = bytes.byteLength >> 1;
    if (bytes.byteLength & 1) this.carry = bytes.slice(bytes.byteLength - 1);
    if (samples === 0) return null;
    const view = new DataView(bytes.buffer, bytes.byteOffset, samples * 2);
    const floats = new Float32Array(samples);
    for (let i = 0; i < samples; i++) floats[i] = view.getInt16(i * 2, true) / 32768;
    // An AudioBuffer at the stream's own rate: the context resamples if it differs
    // (pick the format that matches the context's rate to skip that).
    const buffer = this.ctx.createBuffer(1, samples, rate);
    buffer.copyToChannel(floats, 0);
    const source = this.ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(this.out);
    const now = this.ctx.currentTime;
    const start = Math.max(this.nextTime, now + LEAD_S);
    source.start(start);
    this.nextTime = start + buffer.duration;
    this.sources.add(source);
    this.stats.buffers += 1;
    source.onended = () => {
      this.sources.delete(source);
      if (!this.playing && this.onIdle) this.onIdle();
    };
    return performance.now() + (start - now) * 1000;
  }

  /** The end of one TTS response: a stray odd byte never joins the next response. */
  endOfStream() {
    this.carry = null;
  }

  /** Barge-in: silence now, drop everything scheduled. */
  stop() {
    for (const s of this.sources) {
      s.onended = null;
      try { s.stop(); } catch { /* never started */ }
    }
    this.sources.clear();
    this.nextTime = 0;
    this.carry = null;
    this.stats.stops += 1;
  }
}
