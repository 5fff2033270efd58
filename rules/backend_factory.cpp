// SPDX-License-Identifier: Apache-2.0
#include "rules/backend_factory.h"

#include "rules/legacy/legacy_backend.h"
#include "rules/nft/nft_backend.h"

namespace dind::rules {

BackendFactory BackendFactoryFor(BackendOptions options) {
  return [options](BackendKind kind) -> Result<std::unique_ptr<MasqueradeBackend>> {
    if (kind == BackendKind::kLegacy) {
      legacy::LegacyOptions legacy;
      legacy.lock_wait = options.xtables_wait;
      return legacy::MakeLegacyBackend(legacy);
    }
    return MakeNftBackend();
  };
}

Result<std::unique_ptr<MasqueradeBackend>> MakeBackend(BackendKind kind) {
  return BackendFactoryFor({})(kind);
}

}  // namespace dind::rules
