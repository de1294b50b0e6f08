#include "tests/host/harness.h"
