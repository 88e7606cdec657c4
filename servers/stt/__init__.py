"""Streaming speech-to-text over WebSocket: Silero VAD endpointing, faster-whisper decodes."""
