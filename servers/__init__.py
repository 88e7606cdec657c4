"""The three servers. None of them fetches anything from a model hub while it runs.

Models are prepared ahead (``rymi-endpoints models prepare``); a server that finds one
incomplete says so and stops. The Hugging Face libraries under faster-whisper, vLLM and
transformers would otherwise fetch what a folder lacks (a tokenizer, a config) from the
hub, or wait minutes on one they cannot reach. Set here, before any of them is imported:
they read these once, at import.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
