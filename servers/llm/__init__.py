"""OpenAI-compatible chat completions over in-process vLLM or any upstream (Rymi custom-llm)."""
