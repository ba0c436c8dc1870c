"""The core: types, model resolution, the consultation engine, the Ray runner, the store and the CLI."""
