"""datatrove reader steps for each source kind (imported only by the build, never by the recipe)."""
