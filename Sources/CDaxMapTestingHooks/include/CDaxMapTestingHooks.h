#ifndef CDAXMAP_TESTING_HOOKS_H
#define CDAXMAP_TESTING_HOOKS_H

// DaxMapTesting's loader: a constructor in loader.c registers the product's
// installer with DaxMap (cdaxmap_testing_register), so a process that links
// DaxMapTesting honours injected failures without a call of its own. Nothing
// to call from here.

#endif // CDAXMAP_TESTING_HOOKS_H
