// Streaming chat completions (OpenAI SSE) through the demo's /v1 proxy.

/** Why a server said no, from the contract's error body, or the status line. */
export async function errorOf(resp) {
  try {
    const body = await resp.json();
    if (body?.error?.message) return `${resp.status}: ${body.error.message}`;
  } catch { /* not JSON */ }
  return `${resp.status} ${resp.statusText}`;
}

/**
 * Yields {content} for each text delta and {usage} for the usage chunk.
 * Ends at `data: [DONE]`; an error event or a stream cut before [DONE] throws, since
 * a cut stream must never pass for a complete answer.
 */
export async function* streamChat({ messages, model, headers, signal, maxTokens = 160 }) {
  const resp = await fetch("/v1/chat/completions", {
    method: "POST",
    headers: { ...headers, "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify({
      model, messages, stream: true, stream_options: { include_usage: true },
      temperature: 0.7, max_tokens: maxTokens,
    }),
    signal,
  });
  if (!resp.ok) throw new Error(`LLM ${await errorOf(resp)}`);
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("LLM stream ended without [DONE]");
    pending += value;
    // Events end with a blank line; SSE allows CRLF as well as LF.
    const events = pending.split(/\r?\n\r?\n/);
    pending = events.pop();
    for (const event of events) {
      const data = event.split(/\r?\n/).filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart()).join("\n");
      if (!data) continue;
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(`LLM error mid-stream: ${chunk.error.message}`);
      const content = chunk.choices?.[0]?.delta?.content;
      if (content) yield { content };
      if (chunk.usage) yield { usage: chunk.usage };
    }
  }
}
