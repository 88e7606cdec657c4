"""What all three servers share: auth, audio framing, settings, the app factory."""
