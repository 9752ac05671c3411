"""Infrastructure every other part uses: repository paths, atomic file writes, the model cache,
seeding, progress bars and parameter checks. Nothing here knows about diffusion or attacks."""
