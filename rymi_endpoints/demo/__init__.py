"""The browser demo console: talk to the three self-hosted servers from one page."""
