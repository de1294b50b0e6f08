#include "tests/host/smmu/mock_smmu.h"
#include "tests/host/harness.h"
