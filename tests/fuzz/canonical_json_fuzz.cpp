// Fuzz: the audit chain's one-pass canonical-JSON parser. It refuses with CanonicalJsonError
// only, and its output is canonical: canonicalizing it again changes nothing.
#include <audit_chain/canonical_json.hpp>

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace th::audit;
  std::string_view text(reinterpret_cast<const char *>(data), size);
  std::string canonical;
  try {
    canonical = canonicalize(text);
  } catch (const CanonicalJsonError &) {
    return 0;
  }
  if (canonicalize(canonical) != canonical)
    std::abort();
  return 0;
}
