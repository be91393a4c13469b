// canonicalize(): JSON text straight to its canonical form in one pass, without building a
// document (the audit sink runs this for every event). Produces exactly what
// canonical_json(nlohmann::json::parse(text)) does, and additionally rejects duplicate keys.
#include "audit_chain/canonical_json.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

namespace th::audit {
namespace {

constexpr int max_depth = 256;

struct Member {
  size_t key_offset, key_size; // in Scratch::keys
  size_t begin, end;           // the member's canonical text in the output
};

// Buffers reused across calls on one thread, so that canonicalizing allocates nothing once warm.
struct Scratch {
  std::string keys, decoded, reorder;
  std::vector<Member> members;
};

class CanonicalParser {
public:
  CanonicalParser(std::string_view in, std::string &out, Scratch &scratch)
      : in_(in), out_(out), keys_(scratch.keys), decoded_(scratch.decoded), scratch_(scratch.reorder),
        members_(scratch.members) {
    keys_.clear();
    decoded_.clear();
    members_.clear();
  }

  void run() {
    value(0);
    skip_space();
    if (pos_ != in_.size())
      fail("unexpected text after the JSON value");
  }

private:
  [[noreturn]] void fail(const std::string &what) const {
    throw CanonicalJsonError("invalid JSON at byte " + std::to_string(pos_) + ": " + what);
  }

  void skip_space() {
    while (pos_ < in_.size() &&
           (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r'))
      ++pos_;
  }

  char peek() {
    skip_space();
    if (pos_ >= in_.size())
      fail("unexpected end of input");
    return in_[pos_];
  }

  void expect(char c) {
    if (peek() != c)
      fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  void literal(std::string_view word) {
    if (in_.substr(pos_, word.size()) != word)
      fail("invalid literal");
    pos_ += word.size();
    out_ += word;
  }

  void value(int depth) {
    if (depth > max_depth)
      fail("nested deeper than " + std::to_string(max_depth));
    switch (peek()) {
    case '{':
      object(depth);
      break;
    case '[':
      array(depth);
      break;
    case '"': {
      size_t start = decoded_.size();
      string_into(decoded_);
      append_string(std::string_view(decoded_).substr(start), out_);
      decoded_.resize(start);
      break;
    }
    case 't':
      literal("true");
      break;
    case 'f':
      literal("false");
      break;
    case 'n':
      literal("null");
      break;
    default:
      number();
    }
  }

  void array(int depth) {
    ++pos_;
    out_ += '[';
    if (peek() == ']') {
      ++pos_;
      out_ += ']';
      return;
    }
    for (;;) {
      value(depth + 1);
      char c = peek();
      ++pos_;
      if (c == ']')
        break;
      if (c != ',')
        fail("expected ',' or ']'");
      out_ += ',';
    }
    out_ += ']';
  }

  void object(int depth) {
    ++pos_;
    size_t object_start = out_.size();
    out_ += '{';
    if (peek() == '}') {
      ++pos_;
      out_ += '}';
      return;
    }
    size_t base = members_.size(), keys_base = keys_.size();
    for (;;) {
      if (peek() != '"')
        fail("expected a string key");
      Member m;
      m.key_offset = keys_.size();
      string_into(keys_);
      m.key_size = keys_.size() - m.key_offset;
      m.begin = out_.size();
      append_string(std::string_view(keys_).substr(m.key_offset, m.key_size), out_);
      expect(':');
      out_ += ':';
      value(depth + 1);
      m.end = out_.size();
      members_.push_back(m);
      char c = peek();
      ++pos_;
      if (c == '}')
        break;
      if (c != ',')
        fail("expected ',' or '}'");
      out_ += ',';
    }
    out_ += '}';
    order_members(object_start, base);
    members_.resize(base);
    keys_.resize(keys_base);
  }

  std::string_view key(const Member &m) const {
    return std::string_view(keys_).substr(m.key_offset, m.key_size);
  }

  // Members were written in input order; rewrite them sorted if they were not.
  void order_members(size_t object_start, size_t base) {
    auto first = members_.begin() + static_cast<std::ptrdiff_t>(base), last = members_.end();
    bool sorted = true;
    for (auto it = first; it + 1 < last; ++it) {
      if (key(*it) == key(*(it + 1)))
        fail("duplicate key \"" + std::string(key(*it)) + "\"");
      if (!utf16_less(key(*it), key(*(it + 1))))
        sorted = false;
    }
    if (sorted)
      return;
    std::sort(first, last, [&](const Member &a, const Member &b) { return utf16_less(key(a), key(b)); });
    for (auto it = first; it + 1 < last; ++it)
      if (key(*it) == key(*(it + 1)))
        fail("duplicate key \"" + std::string(key(*it)) + "\"");
    scratch_.assign(out_, object_start, std::string::npos);
    out_.resize(object_start);
    out_ += '{';
    for (auto it = first; it != last; ++it) {
      if (it != first)
        out_ += ',';
      out_.append(scratch_, it->begin - object_start, it->end - it->begin);
    }
    out_ += '}';
  }

  unsigned hex4() {
    if (pos_ + 4 > in_.size())
      fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = in_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<unsigned>(c - 'A' + 10);
      else
        fail("invalid \\u escape");
    }
    return v;
  }

  static void append_utf8(uint32_t cp, std::string &out) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | cp >> 6);
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | cp >> 12);
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | cp >> 18);
      out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // Appends the decoded UTF-8 of the string at pos_ (which is at its opening quote).
  void string_into(std::string &out) {
    ++pos_;
    size_t raw_start = out.size();
    unsigned char seen = 0; // OR of every byte: below 0x80 means ASCII, valid UTF-8 as it stands
    for (;;) {
      size_t run = pos_;
      while (pos_ < in_.size() && in_[pos_] != '"' && in_[pos_] != '\\' &&
             static_cast<unsigned char>(in_[pos_]) >= 0x20)
        seen |= static_cast<unsigned char>(in_[pos_++]);
      out.append(in_, run, pos_ - run);
      if (pos_ >= in_.size())
        fail("unterminated string");
      char c = in_[pos_++];
      if (c == '"')
        break;
      if (c != '\\')
        fail("control character in a string");
      if (pos_ >= in_.size())
        fail("unterminated string");
      switch (in_[pos_++]) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp = hex4();
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (in_.substr(pos_, 2) != "\\u")
            fail("unpaired surrogate in \\u escape");
          pos_ += 2;
          uint32_t low = hex4();
          if (low < 0xDC00 || low > 0xDFFF)
            fail("unpaired surrogate in \\u escape");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          fail("unpaired surrogate in \\u escape");
        }
        append_utf8(cp, out);
        break;
      }
      default:
        fail("invalid escape");
      }
    }
    if (seen >= 0x80 && !is_valid_utf8(std::string_view(out).substr(raw_start)))
      fail("string is not valid UTF-8");
  }

  void number() {
    size_t start = pos_;
    auto digit = [&] { return pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9'; };
    if (pos_ < in_.size() && in_[pos_] == '-')
      ++pos_;
    if (!digit())
      fail("invalid value");
    if (in_[pos_] == '0')
      ++pos_;
    else
      while (digit())
        ++pos_;
    bool integer = true;
    if (pos_ < in_.size() && in_[pos_] == '.') {
      integer = false;
      ++pos_;
      if (!digit())
        fail("digit expected after '.'");
      while (digit())
        ++pos_;
    }
    if (pos_ < in_.size() && (in_[pos_] == 'e' || in_[pos_] == 'E')) {
      integer = false;
      ++pos_;
      if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-'))
        ++pos_;
      if (!digit())
        fail("digit expected in exponent");
      while (digit())
        ++pos_;
    }
    std::string_view token = in_.substr(start, pos_ - start);
    // Integers of up to 15 digits are exact doubles below 1e21: ECMAScript prints them as written.
    size_t digits = token.size() - (token[0] == '-');
    if (integer && digits <= 15) {
      out_ += token == "-0" ? std::string_view("0") : token;
      return;
    }
    double v = 0;
    auto r = std::from_chars(token.data(), token.data() + token.size(), v);
    if (r.ec != std::errc() || r.ptr != token.data() + token.size())
      fail("number out of range");
    append_number(v, out_);
  }

  std::string_view in_;
  std::string &out_;
  size_t pos_ = 0;
  std::string &keys_, &decoded_, &scratch_;
  std::vector<Member> &members_;
};

} // namespace

void canonicalize_into(std::string_view text, std::string &out) {
  thread_local Scratch scratch;
  out.clear();
  CanonicalParser(text, out, scratch).run();
}

std::string canonicalize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  canonicalize_into(text, out);
  return out;
}

} // namespace th::audit
