"""Infrastructure every other layer uses; nothing here knows about diffusion or attacks:
repository locations (:mod:`.paths`), atomic file writes (:mod:`.fileio`), the model cache with its
locks and hashes (:mod:`.cache`), parameter checks (:mod:`.checks`), the typed settings base class
(:mod:`.config`), seeded generators (:mod:`.seeding`), progress bars and timers (:mod:`.progress`), known library
notices dropped where they arise (:mod:`.quiet`) and a quicker exit for short-lived processes (:mod:`.process_exit`)."""
