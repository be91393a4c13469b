#include "gateway/passphrase_field.hpp"

#include <vector>

namespace th::gateway {
namespace {

using nlohmann::json;

// SAX events with a stack of the keys leading to the current value; nothing else is kept.
class PathScanner {
public:
  explicit PathScanner(std::string_view path) : path_(path) {
    for (size_t at = 0;;) {
      auto dot = path.find('.', at);
      parts_.push_back(path.substr(at, dot == std::string_view::npos ? dot : dot - at));
      if (dot == std::string_view::npos)
        break;
      at = dot + 1;
    }
  }

  bool null() { return scalar(nullptr); }
  bool boolean(bool) { return scalar(nullptr); }
  bool number_integer(json::number_integer_t) { return scalar(nullptr); }
  bool number_unsigned(json::number_unsigned_t) { return scalar(nullptr); }
  bool number_float(json::number_float_t, const json::string_t &) { return scalar(nullptr); }
  bool binary(json::binary_t &) { return scalar(nullptr); }
  bool string(json::string_t &value) { return scalar(&value); }
  bool start_object(std::size_t) { return open(true); }
  bool start_array(std::size_t) { return open(false); }
  bool key(json::string_t &name) {
    frames_.back().key = name;
    return true;
  }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t byte, const std::string &, const nlohmann::detail::exception &) {
    failed_at_ = byte;
    return false;
  }

  std::optional<size_t> failed_at_;
  bool whole_key_seen_ = false; // the path as one top-level key: it wins over the nested path
  std::optional<std::string> whole_key_, nested_;

private:
  struct Frame {
    bool object;
    std::string key;
  };

  bool open(bool object) {
    check(nullptr); // an object or array at the path is not a passphrase
    frames_.push_back({object, {}});
    return true;
  }
  bool close() {
    frames_.pop_back();
    return true;
  }
  bool scalar(const std::string *value) {
    check(value);
    return true;
  }
  // Called for every value, with the keys leading to it in frames_.
  void check(const std::string *value) {
    if (frames_.empty() || !frames_.back().object)
      return;
    if (frames_.size() == 1 && frames_[0].key == path_) {
      whole_key_seen_ = true;
      whole_key_ = value ? std::optional(*value) : std::nullopt;
    }
    if (frames_.size() != parts_.size())
      return;
    for (size_t i = 0; i < parts_.size(); ++i)
      if (!frames_[i].object || frames_[i].key != parts_[i])
        return;
    nested_ = value ? std::optional(*value) : std::nullopt;
  }

  std::string_view path_;
  std::vector<std::string_view> parts_;
  std::vector<Frame> frames_;
};

// The object holding the field at parts[0..n) (nested), or nullptr.
json *parent_of(json &body, const std::vector<std::string> &parts) {
  json *node = &body;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    auto it = node->find(parts[i]);
    if (it == node->end() || !it->is_object())
      return nullptr;
    node = &*it;
  }
  return node;
}

} // namespace

PassphraseScan scan_passphrase(std::string_view text, std::string_view path) {
  PathScanner scanner(path);
  PassphraseScan scan;
  json::sax_parse(text.begin(), text.end(), &scanner, nlohmann::detail::input_format_t::json,
                  /*strict=*/true, /*ignore_comments=*/false);
  if (scanner.failed_at_) {
    scan.json_ok = false;
    scan.byte = *scanner.failed_at_;
    return scan;
  }
  scan.value = scanner.whole_key_seen_ ? scanner.whole_key_ : scanner.nested_;
  return scan;
}

void erase_found_field(json &body, std::string_view path) {
  if (!body.is_object())
    return;
  if (body.erase(std::string(path)))
    return;
  std::vector<std::string> parts;
  for (size_t at = 0;;) {
    auto dot = path.find('.', at);
    parts.emplace_back(path.substr(at, dot == std::string_view::npos ? dot : dot - at));
    if (dot == std::string_view::npos)
      break;
    at = dot + 1;
  }
  json *parent = parent_of(body, parts);
  if (!parent || !parent->erase(parts.back()))
    return;
  // Drop the objects the removal emptied ("auth": {} would be passed on as an unknown field).
  for (size_t n = parts.size() - 1; n > 0; --n) {
    parts.pop_back();
    json *holder = parent_of(body, parts);
    auto it = holder ? holder->find(parts.back()) : body.end();
    if (!holder || it == holder->end() || !it->is_object() || !it->empty())
      break;
    holder->erase(it);
  }
}

} // namespace th::gateway
