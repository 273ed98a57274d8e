// tools/bench/peers/fold.hpp: the checksum every benchmark adapter folds the parsed data into, so
// the optimizer cannot drop the work. Lengths and first bytes, FNV-1a style.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace sipvoice::bench {

struct Fold {
  std::uint64_t h = 1469598103934665603ULL;

  void num(std::uint64_t v) { h = (h ^ v) * 1099511628211ULL; }

  void str(std::string_view s) {
    num(s.size());
    num(s.empty() ? 0U : static_cast<unsigned char>(s[0]));
  }

  void str(const char* s) {
    if (s == nullptr) {
      num(0);
      return;
    }
    str(std::string_view(s, std::strlen(s)));
  }

  [[nodiscard]] std::uint64_t result() const { return h != 0 ? h : 1; }
};

}  // namespace sipvoice::bench
