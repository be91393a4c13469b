// The simulator's only source of randomness. std::mt19937_64 is specified bit-for-bit by the
// standard; std::uniform_real_distribution is not, so the draw below is our own: the top 53 bits
// of one engine output scaled to [0, 1). Same seed, same calls -> same numbers everywhere.
#pragma once

#include <cstdint>
#include <random>

namespace exec_sim {

class RandomSource {
public:
  explicit RandomSource(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1): consumes exactly one engine output.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  // Uniform in [low, high): one engine output.
  double uniform(double low, double high) { return low + (high - low) * uniform(); }

private:
  std::mt19937_64 engine_;
};

} // namespace exec_sim
