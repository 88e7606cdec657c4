// The STT WebSocket through the demo proxy. Browsers cannot put an Authorization header
// on a WebSocket, so the token rides in Sec-WebSocket-Protocol as a second offered value
// ("rymi-demo.bearer.<base64url>"); the proxy turns it back into a bearer header.

function base64url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export class SttSocket {
  constructor({ token, query, onEvent, onClose }) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const protocols = ["rymi-demo"];
    if (token) protocols.push(`rymi-demo.bearer.${base64url(token)}`);
    // The query string carries the STT's per-agent options, as in a Rymi URL.
    const search = query ? `?${query}` : "";
    this.ws = new WebSocket(`${scheme}://${location.host}/stt${search}`, protocols);
    this.ws.binaryType = "arraybuffer";
    this.sentBytes = 0;
    this.lastSend = performance.now();
    this.opened = new Promise((resolve, reject) => {
      this.ws.onopen = resolve;
      this.ws.onerror = () => reject(new Error("STT socket failed to open"));
    });
    this.ws.onmessage = (e) => {
      if (typeof e.data === "string") onEvent(JSON.parse(e.data));
    };
    this.ws.onclose = (e) => onClose(e);
    // A silent session (push-to-talk, nothing held) would hit the server's idle timeout.
    this.keepalive = setInterval(() => {
      if (performance.now() - this.lastSend > 10000) this.control("keepalive");
    }, 5000);
  }

  get open() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  sendAudio(pcm) {
    if (!this.open) return;
    this.ws.send(pcm);
    this.sentBytes += pcm.byteLength;
    this.lastSend = performance.now();
  }

  control(type) {
    if (this.open) this.ws.send(JSON.stringify({ type }));
    this.lastSend = performance.now();
  }

  close() {
    clearInterval(this.keepalive);
    // The server answers close with the pending final: after Stop nobody wants it (it
    // would start an agent turn on a closed page).
    this.ws.onmessage = null;
    // Nor its close: it comes after the flush, when a new session may be open (Stop,
    // then Start at once), and it ended that one.
    this.ws.onclose = null;
    this.control("close"); // the server flushes a pending final, then closes with 1000
  }
}
