"""Real-time delivery: the per-process hub and the two WebSocket session kinds."""
