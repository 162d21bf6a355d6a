"""The start-up heap out of the cyclic garbage collector's way, in the server and the engine.

A full (generation-2) collection walks every container object the process holds; after
the imports (FastAPI, numpy, scipy, numba, onnxruntime …) that is ~130,000 of them, and at
300 seats such a collection ran every ~4 s and stopped every thread of the process for
100–140 ms: the event loop, the engine's result reader and the store thread in the
server, the tick in the engine process; an alert decided across one reached the
dashboards that much later (the tail of alert delivery). What exists once the process
has started lives until it ends, so it is collected once and frozen (:func:`gc.freeze`);
later collections walk only what was allocated since, a few ms.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect the garbage of start-up, then exclude every object left from future
    collections; returns how many objects are now frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
