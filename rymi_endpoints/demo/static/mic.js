// The microphone: getUserMedia -> AudioWorklet (capture-worklet.js) -> 20 ms PCM16 frames,
// plus a crude local voice-activity estimate used only to time "end of speech" for the
// latency readout (the STT server's own VAD decides turns).

const MIN_PAUSE_MS = 150; // shorter gaps are between words, not the end of speech

export class Microphone {
  /** @param {AudioContext} ctx  @param {(pcm: ArrayBuffer, rms: number) => void} onFrame */
  constructor(ctx, onFrame) {
    this.ctx = ctx;
    this.onFrame = onFrame;
    this.stream = null;
    this.node = null;
    this.floor = 0.01; // running noise-floor estimate (RMS)
    this.silenceSince = null; // when the current pause began (null while speaking)
    this.pauses = []; // starts of recent pauses that lasted MIN_PAUSE_MS, oldest first
    this.level = 0;
  }

  async start() {
    // Echo cancellation keeps the agent's own voice (played by this page) from being
    // heard as the caller talking, which would barge in on every answer.
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true,
               autoGainControl: true },
    });
    await this.ctx.audioWorklet.addModule("/static/capture-worklet.js");
    const source = this.ctx.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.ctx, "pcm16-capture", { numberOfOutputs: 1 });
    // A muted path to the destination: the graph only pulls nodes that lead to an output.
    const mute = this.ctx.createGain();
    mute.gain.value = 0;
    source.connect(this.node).connect(mute).connect(this.ctx.destination);
    this.node.port.onmessage = (e) => this.frame(e.data.pcm, e.data.rms, e.data.t);
  }

  frame(pcm, rms, audioTime) {
    // The floor falls fast to quiet frames and rises slowly, slowest through speech, so
    // it tracks room or crowd noise without climbing to the level of the voice.
    const voiced = rms > Math.max(0.008, this.floor * 3);
    const rate = rms < this.floor ? 0.3 : voiced ? 0.001 : 0.05;
    this.floor += (rms - this.floor) * rate;
    this.level = rms;
    const at = this.toPerformance(audioTime);
    if (voiced) {
      this.silenceSince = null;
    } else if (this.silenceSince === null) {
      this.silenceSince = at;
    } else if (at - this.silenceSince >= MIN_PAUSE_MS && this.pauses.at(-1) !== this.silenceSince) {
      this.pauses.push(this.silenceSince);
      if (this.pauses.length > 64) this.pauses.shift();
    }
    this.onFrame(pcm, rms);
  }

  /** When speech ended before `finalAt`: the pause in progress, or (the caller already
   *  talks again, the final was slow) the last real pause that began before it. */
  speechEndBefore(finalAt) {
    if (this.silenceSince !== null && this.silenceSince <= finalAt) return this.silenceSince;
    const earlier = this.pauses.filter((t) => t <= finalAt);
    return earlier.length ? earlier.at(-1) : finalAt;
  }

  /** AudioContext time -> performance.now() time, via the context's own mapping. */
  toPerformance(audioTime) {
    const ts = this.ctx.getOutputTimestamp();
    if (!ts.performanceTime) return performance.now();
    return ts.performanceTime + (audioTime - ts.contextTime) * 1000;
  }

  stop() {
    if (this.node) this.node.port.onmessage = null;
    this.node?.disconnect();
    this.stream?.getTracks().forEach((t) => t.stop());
    this.node = null;
    this.stream = null;
  }
}
