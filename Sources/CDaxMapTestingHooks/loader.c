#include "CDaxMapTestingHooks.h"
#include <CDaxMapInject.h>

// Defined in Swift by DaxMapTesting (@_cdecl): installs its hooks into DaxMap.
extern void daxmaptesting_install(void);

// Only registers a pointer: Swift runs later, when DaxMap first needs the hooks,
// not here (before main, possibly before the Swift runtime saw this image).
__attribute__((constructor)) static void daxmaptesting_load(void) {
    cdaxmap_testing_register(daxmaptesting_install);
}
