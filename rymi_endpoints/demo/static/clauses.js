// Cuts the LLM's streaming text into clauses for TTS: the first audio can start after the
// first clause instead of the whole answer, and piper speaks a clause with natural prosody.

const SENTENCE_END = /[.!?…]+["')\]]*\s/g; // ". " but not "12.50" (needs the space)
const CLAUSE_END = /[,;:—–]\s/g;
const HARD_LIMIT = 180; // no punctuation for this long: cut at a space anyway

export class ClauseSplitter {
  constructor(minClauseChars = 24) {
    this.minClause = minClauseChars; // short pieces ("Yes, ") sound choppy alone
    this.buffer = "";
  }

  /** Add streamed text; returns the clauses that are now complete. */
  push(text) {
    this.buffer += text;
    const out = [];
    for (;;) {
      const cut = this.nextCut();
      if (cut <= 0) break;
      out.push(this.buffer.slice(0, cut).trim());
      this.buffer = this.buffer.slice(cut);
    }
    return out.filter(speakable);
  }

  /** The end of the answer: whatever is left is the last clause. */
  flush() {
    const rest = this.buffer.trim();
    this.buffer = "";
    return speakable(rest) ? [rest] : [];
  }

  nextCut() {
    const b = this.buffer;
    // The earliest of: a sentence end, or a clause mark once the clause is long enough.
    let cut = firstEnd(SENTENCE_END, b, 1);
    const clause = firstEnd(CLAUSE_END, b, this.minClause);
    if (clause > 0 && (cut < 0 || clause < cut)) cut = clause;
    if (cut > 0) return cut;
    if (b.length > HARD_LIMIT) {
      const space = b.lastIndexOf(" ", HARD_LIMIT);
      return space > 0 ? space + 1 : HARD_LIMIT;
    }
    return -1;
  }
}

// Markdown marks mean nothing to a listener; the TTS would read or stumble on them.
export function forSpeech(text) {
  return text.replace(/[*_#`>]+/g, " ").replace(/\s+/g, " ").trim();
}

function firstEnd(re, text, minEnd) {
  re.lastIndex = 0;
  let m;
  while ((m = re.exec(text)) !== null) {
    const end = m.index + m[0].length;
    if (end >= minEnd) return end;
  }
  return -1;
}

function speakable(text) {
  return /[\p{L}\p{N}]/u.test(text);
}
