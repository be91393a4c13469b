// Canonical JSON (RFC 8785 style), the form every hashed audit row is written in:
//   - objects: members sorted by key, compared as UTF-16 code-unit sequences; no whitespace;
//   - numbers: IEEE-754 doubles printed as ECMAScript Number.prototype.toString does
//     (shortest round-trip digits; integers below 1e21 in full; "1e+21", "1e-7" otherwise);
//   - strings: UTF-8, escaping only '"', '\\' and U+0000..U+001F (\b \t \n \f \r, else \u00xx).
// docs/audit-format.md states the rules with examples.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace th::audit {

struct CanonicalJsonError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Appends the canonical text of a parsed value. Throws CanonicalJsonError for a non-finite
// number or a string that is not valid UTF-8.
void append_canonical(const nlohmann::json &value, std::string &out);
std::string canonical_json(const nlohmann::json &value);

// Parses JSON text and returns its canonical form (the same as canonical_json() of the parsed
// value) in one pass. Throws CanonicalJsonError naming the problem and byte offset; duplicate
// keys are rejected.
std::string canonicalize(std::string_view json_text);
// The same into `out` (replaced), reusing its capacity and per-thread scratch buffers.
void canonicalize_into(std::string_view json_text, std::string &out);

// The ECMAScript string for a double (throws for NaN and infinities). -0 prints as "0".
void append_number(double value, std::string &out);

// A quoted JSON string with minimal escaping. The input must be valid UTF-8 (not checked here).
void append_string(std::string_view utf8, std::string &out);

// True when the bytes are well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

// Orders two UTF-8 strings by their UTF-16 code units (the RFC 8785 key order).
bool utf16_less(std::string_view a, std::string_view b);

} // namespace th::audit
