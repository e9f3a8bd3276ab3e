// Private to the shim: the handler's side of the event ring.
#ifndef CDAXMAP_EVENT_RING_H
#define CDAXMAP_EVENT_RING_H

#include "CDaxMap.h"

/// Records `f` (its sequence assigned here) and wakes the monitor once per
/// drain; counts a drop when the ring is full. Async-signal-safe, multi-producer.
void cdaxmap_ring_push(struct cdaxmap_fault *f);

/// Creates the wake-up eventfd if there is none. Returns 0 or -errno. Not
/// async-signal-safe; called under the install lock.
int cdaxmap_ring_open(void);

#endif
