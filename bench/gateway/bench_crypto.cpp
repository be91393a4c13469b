// constant_time_equal (the admin token and passphrase comparison) against an 8 MiB secret: a
// candidate of the same length that differs in its last byte, one byte longer, and one byte
// long. Both sides are hashed in full before a fixed-length comparison, so the time follows the
// candidate's own length (which its sender knows) and not whether it matches the secret's: the
// first two take about as long (ratio near 1). An early return on a length mismatch would make
// the second as fast as the third.
#include "gateway/crypto.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

namespace {

template <class Compare> double best_of(int runs, Compare compare) {
  double best = 1e9;
  for (int i = 0; i < runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    volatile bool equal = compare();
    (void)equal;
    best = std::min(
        best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

} // namespace

int main() {
  const std::string secret(8 << 20, 't');
  std::string same_length = secret;
  same_length.back() = 'u';
  const double equal_length =
      best_of(9, [&] { return th::gateway::constant_time_equal(secret, same_length); });
  const std::string longer = secret + "t";
  const double longer_by_one = best_of(9, [&] { return th::gateway::constant_time_equal(secret, longer); });
  const double one_byte = best_of(9, [&] { return th::gateway::constant_time_equal(secret, "t"); });
  std::printf("| candidate compared with an 8 MiB secret | best of 9 (ms) |\n|---|---|\n");
  std::printf("| same length, last byte differs | %.3f |\n", equal_length);
  std::printf("| one byte longer | %.3f |\n", longer_by_one);
  std::printf("| one byte | %.3f |\n", one_byte);
  std::printf("| ratio one byte longer / same length | %.2f |\n", longer_by_one / equal_length);
  return 0;
}
