#include <libpmemlog.h>
