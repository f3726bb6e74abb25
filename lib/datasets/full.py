"""Full-profile loaders (filled in next)."""
