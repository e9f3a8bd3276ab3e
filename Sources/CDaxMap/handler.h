// Private to the shim: per-thread state the handler reads without a system call.
#ifndef CDAXMAP_HANDLER_H
#define CDAXMAP_HANDLER_H

#include <stdint.h>

/// The calling thread's id, cached so the handler's notice path (a storm of
/// asynchronous SIGBUS) makes no system call. 0 until cached.
extern __thread int32_t cdaxmap_cached_tid __attribute__((tls_model("initial-exec")));

#endif
