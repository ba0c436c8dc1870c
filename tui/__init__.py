"""Terminal UI for following runs (``arena watch``); it reads the store, never the engine."""
