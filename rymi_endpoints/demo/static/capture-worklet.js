// Microphone capture on the audio thread: low-pass, resample to 16 kHz, PCM16 LE frames.
// Runs here (not on the page's thread) so a busy page never drops or delays audio; the
// page only forwards each 20 ms frame to the STT socket.

const OUT_RATE = 16000;
const FRAME = 320; // 20 ms at 16 kHz: small enough for low latency, few WebSocket frames

// Windowed-sinc low-pass (Blackman): removes what 16 kHz cannot carry before we drop
// samples, so sibilants do not fold back as noise the recogniser would hear.
function lowpass(inRate, cutoffHz, taps) {
  const fc = cutoffHz / inRate;
  const mid = (taps - 1) / 2;
  const h = new Float32Array(taps);
  let sum = 0;
  for (let i = 0; i < taps; i++) {
    const x = i - mid;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (taps - 1))
      + 0.08 * Math.cos((4 * Math.PI * i) / (taps - 1));
    h[i] = sinc * w;
    sum += h[i];
  }
  for (let i = 0; i < taps; i++) h[i] /= sum; // unity gain at DC
  return h;
}

class Pcm16Capture extends AudioWorkletProcessor {
  constructor() {
    super();
    // `sampleRate` is the context's rate (a global of the worklet scope), often 48000.
    this.step = sampleRate / OUT_RATE;
    this.taps = this.step > 1.01 ? lowpass(sampleRate, 7200, 63) : Float32Array.of(1);
    this.ring = new Float32Array(this.taps.length);
    this.head = 0;
    this.n = 0; // index of the newest filtered input sample
    this.prev = 0; // the filtered sample before it (for interpolation)
    this.pos = 0; // where the next output sample falls, in input samples
    this.out = new Int16Array(FRAME);
    this.fill = 0;
    this.energy = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true; // no input yet (device starting): keep the node alive
    const { taps, ring } = this;
    const len = taps.length;
    for (let k = 0; k < channel.length; k++) {
      ring[this.head] = channel[k];
      this.head = (this.head + 1) % len;
      let y = 0;
      for (let t = 0, idx = this.head; t < len; t++) {
        y += taps[t] * ring[idx];
        idx = idx + 1 === len ? 0 : idx + 1;
      }
      // Linear interpolation between the last two filtered samples is exact enough
      // once the signal is band-limited well below the new Nyquist.
      while (this.pos <= this.n) {
        const frac = this.pos - (this.n - 1);
        this.emit(this.prev + frac * (y - this.prev));
        this.pos += this.step;
      }
      this.prev = y;
      this.n += 1;
    }
    return true;
  }

  emit(v) {
    const s = Math.max(-1, Math.min(1, v));
    this.out[this.fill++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    this.energy += s * s;
    if (this.fill === FRAME) {
      const rms = Math.sqrt(this.energy / FRAME);
      // Stamped with the audio clock (`currentTime`, a global of the worklet scope): the
      // page thread may get this message late when busy, the clock is never late.
      // Transfer, not copy: the buffer moves to the page thread without a memcpy.
      this.port.postMessage({ pcm: this.out.buffer, rms, t: currentTime }, [this.out.buffer]);
      this.out = new Int16Array(FRAME);
      this.fill = 0;
      this.energy = 0;
    }
  }
}

registerProcessor("pcm16-capture", Pcm16Capture);
