// Contract JSON for every payload. Decoding walks each object once, dispatching on the key,
// so a message costs one pass plus the copies it must make; unmodelled fields are collected
// into extra_json and merged back by the encoders so they survive unchanged.
#include "events/json_codec.hpp"

#include "events/json_depth.hpp"

#include <array>
#include <cmath>
#include <cstdio>

namespace th {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------
namespace {

constexpr int64_t ns_per_second = 1'000'000'000;
constexpr int64_t seconds_per_day = 86'400;

// Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic, valid for all years).
int64_t days_from_date(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const unsigned year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned shifted_month = month > 2 ? month - 3 : month + 9; // March = 0
  const unsigned day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<int64_t>(day_of_era) - 719468;
}

struct Date {
  int64_t year;
  unsigned month;
  unsigned day;
};

// Inverse of days_from_date.
Date date_from_days(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned shifted_month = (5 * day_of_year + 2) / 153;
  const unsigned day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  const unsigned month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  return {static_cast<int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

bool is_leap(int64_t year) {
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

unsigned days_in_month(int64_t year, unsigned month) {
  static constexpr std::array<unsigned, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

void put_digits(char *out, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

// Reads exactly `width` decimal digits at text[pos]; -1 when they are not all digits.
int read_digits(std::string_view text, size_t pos, size_t width) {
  if (pos + width > text.size())
    return -1;
  int value = 0;
  for (size_t i = 0; i < width; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9')
      return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

} // namespace

std::string format_timestamp(TimeNs ns) {
  // Floor to milliseconds so times before 1970 still round towards the past.
  int64_t ms = ns / 1'000'000;
  if (ns % 1'000'000 < 0)
    --ms;
  int64_t seconds = ms / 1000;
  int64_t millis = ms % 1000;
  if (millis < 0) {
    millis += 1000;
    --seconds;
  }
  int64_t days = seconds / seconds_per_day;
  int64_t second_of_day = seconds % seconds_per_day;
  if (second_of_day < 0) {
    second_of_day += seconds_per_day;
    --days;
  }
  const Date date = date_from_days(days);
  if (date.year < 0 || date.year > 9999) { // outside RFC 3339's range: still readable, never fails
    char wide[48];
    std::snprintf(wide, sizeof wide, "%lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(date.year), date.month, date.day,
                  static_cast<long long>(second_of_day / 3600),
                  static_cast<long long>(second_of_day / 60 % 60), static_cast<long long>(second_of_day % 60),
                  static_cast<long long>(millis));
    return wide;
  }
  char buffer[24] = {'0', '0', '0', '0', '-', '0', '0', '-', '0', '0', 'T', '0',
                     '0', ':', '0', '0', ':', '0', '0', '.', '0', '0', '0', 'Z'};
  put_digits(buffer, date.year, 4);
  put_digits(buffer + 5, date.month, 2);
  put_digits(buffer + 8, date.day, 2);
  put_digits(buffer + 11, second_of_day / 3600, 2);
  put_digits(buffer + 14, second_of_day / 60 % 60, 2);
  put_digits(buffer + 17, second_of_day % 60, 2);
  put_digits(buffer + 20, millis, 3);
  return std::string(buffer, sizeof buffer);
}

std::optional<TimeNs> parse_timestamp(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm); RFC 3339 also allows 't', 'z' and a space.
  const int year = read_digits(text, 0, 4);
  const int month = read_digits(text, 5, 2);
  const int day = read_digits(text, 8, 2);
  const int hour = read_digits(text, 11, 2);
  const int minute = read_digits(text, 14, 2);
  const int second = read_digits(text, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0)
    return std::nullopt;
  if (text[4] != '-' || text[7] != '-' || text[13] != ':' || text[16] != ':')
    return std::nullopt;
  if (text[10] != 'T' && text[10] != 't' && text[10] != ' ')
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || static_cast<unsigned>(day) > days_in_month(year, month) ||
      hour > 23 || minute > 59 || second > 60) // 60: a leap second, folded into the next one
    return std::nullopt;

  size_t pos = 19;
  int64_t fraction_ns = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const size_t first = pos;
    int64_t scale = 100'000'000;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      fraction_ns += (text[pos] - '0') * scale; // digits past nanoseconds add 0
      scale /= 10;
      ++pos;
    }
    if (pos == first)
      return std::nullopt;
  }

  if (pos >= text.size())
    return std::nullopt;
  int64_t offset_seconds = 0;
  const char zone = text[pos];
  if (zone == 'Z' || zone == 'z') {
    ++pos;
  } else if (zone == '+' || zone == '-') {
    const int offset_hours = read_digits(text, pos + 1, 2);
    const int offset_minutes = read_digits(text, pos + 4, 2);
    if (offset_hours < 0 || offset_minutes < 0 || text[pos + 3] != ':' || offset_hours > 23 ||
        offset_minutes > 59)
      return std::nullopt;
    offset_seconds = (offset_hours * 3600 + offset_minutes * 60) * (zone == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size())
    return std::nullopt;

  const int64_t local_seconds =
      days_from_date(year, month, day) * seconds_per_day + hour * 3600 + minute * 60 + second;
  // Nanoseconds since 1970 in 64 bits reach from 1677 to 2262: outside, the time is refused.
  int64_t ns = 0;
  if (__builtin_mul_overflow(local_seconds - offset_seconds, ns_per_second, &ns) ||
      __builtin_add_overflow(ns, fraction_ns, &ns))
    return std::nullopt;
  return ns;
}

// ---------------------------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------------------------
namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z')
      x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z')
      y = static_cast<char>(y - 'A' + 'a');
    if (x != y)
      return false;
  }
  return true;
}

// names[i] is the contract string of value i + 1.
template <size_t N> std::string_view name_in(const std::array<std::string_view, N> &names, int32_t value) {
  return value >= 1 && static_cast<size_t>(value) <= N ? names[value - 1] : std::string_view{};
}
template <size_t N> int32_t value_in(const std::array<std::string_view, N> &names, std::string_view name) {
  for (size_t i = 0; i < N; ++i)
    if (equals_ignoring_case(names[i], name))
      return static_cast<int32_t>(i + 1);
  return 0;
}

constexpr std::array<std::string_view, 4> signal_action_names{"buy", "sell", "hold", "close"};
constexpr std::array<std::string_view, 2> side_names{"buy", "sell"};
constexpr std::array<std::string_view, 4> order_type_names{"market", "limit", "stop", "stop_limit"};
constexpr std::array<std::string_view, 5> time_in_force_names{"DAY", "IOC", "FOK", "GTC", "GTD"};
constexpr std::array<std::string_view, 4> fill_status_names{"complete", "partial", "rejected", "cancelled"};

} // namespace

std::string_view signal_action_name(int32_t v) {
  return name_in(signal_action_names, v);
}
int32_t signal_action_from_name(std::string_view n) {
  return value_in(signal_action_names, n);
}
std::string_view side_name(int32_t v) {
  return name_in(side_names, v);
}
int32_t side_from_name(std::string_view n) {
  return value_in(side_names, n);
}
std::string_view order_type_name(int32_t v) {
  return name_in(order_type_names, v);
}
int32_t order_type_from_name(std::string_view n) {
  return value_in(order_type_names, n);
}
std::string_view time_in_force_name(int32_t v) {
  return v == 0 ? "DAY" : name_in(time_in_force_names, v);
}
int32_t time_in_force_from_name(std::string_view n) {
  return value_in(time_in_force_names, n);
}
std::string_view fill_status_name(int32_t v) {
  return name_in(fill_status_names, v);
}
int32_t fill_status_from_name(std::string_view n) {
  return value_in(fill_status_names, n);
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------
namespace {

void put_if_set(json &j, const char *key, const std::string &value) {
  if (!value.empty())
    j[key] = value;
}
void put_if_set(json &j, const char *key, const std::optional<double> &value) {
  if (value)
    j[key] = *value;
}

// Writes the unmodelled fields back at the top level. A modelled field wins over an extra one
// of the same name; for nested objects (fees, risk_params) the extra's unknown keys are added.
void merge_extra(json &j, const std::string &extra_json) {
  if (extra_json.empty())
    return;
  if (!check_json_depth(extra_json, max_bus_json_depth).ok)
    return; // not ours to repair either; dump() would recurse on it
  json extra = json::parse(extra_json, nullptr, /*allow_exceptions=*/false);
  if (!extra.is_object())
    return; // not ours to repair; the decoder only ever stores objects
  for (auto &[key, value] : extra.items()) {
    auto existing = j.find(key);
    if (existing == j.end()) {
      j.emplace(key, std::move(value));
    } else if (existing->is_object() && value.is_object()) {
      for (auto &[inner_key, inner_value] : value.items())
        if (!existing->contains(inner_key))
          existing->emplace(inner_key, std::move(inner_value));
    }
  }
}

void put_intent_fields(json &j, const OrderIntent &o) {
  j["corr_id"] = o.corr_id;
  put_if_set(j, "parent_corr_id", o.parent_corr_id);
  j["agent_id"] = o.agent_id;
  put_if_set(j, "order_id", o.order_id);
  j["instrument"] = o.instrument;
  j["side"] = side_name(o.side);
  j["quantity"] = o.quantity;
  j["order_type"] = order_type_name(o.order_type);
  j["timestamp"] = format_timestamp(o.timestamp_ns);
  put_if_set(j, "price_limit", o.price_limit);
  put_if_set(j, "stop_price", o.stop_price);
  if (o.time_in_force != 0)
    j["time_in_force"] = time_in_force_name(o.time_in_force);
  put_if_set(j, "strategy", o.strategy);
  const RiskParams &r = o.risk_params;
  if (r.max_position || r.stop_loss || r.take_profit || r.max_slippage_bps) {
    json risk = json::object();
    put_if_set(risk, "max_position", r.max_position);
    put_if_set(risk, "stop_loss", r.stop_loss);
    put_if_set(risk, "take_profit", r.take_profit);
    put_if_set(risk, "max_slippage_bps", r.max_slippage_bps);
    j["risk_params"] = std::move(risk);
  }
}

} // namespace

json to_json(const Signal &s) {
  json j = json::object();
  j["corr_id"] = s.corr_id;
  put_if_set(j, "parent_corr_id", s.parent_corr_id);
  j["instrument"] = s.instrument;
  j["signal"] = signal_action_name(s.action);
  j["strength"] = s.strength;
  j["timestamp"] = format_timestamp(s.timestamp_ns);
  put_if_set(j, "price", s.price);
  put_if_set(j, "source", s.source);
  if (s.received_ns != 0)
    j["received_at"] = format_timestamp(s.received_ns);
  merge_extra(j, s.extra_json);
  return j;
}

json to_json(const OrderIntent &o) {
  json j = json::object();
  put_intent_fields(j, o);
  merge_extra(j, o.extra_json);
  return j;
}

json to_json(const Rejection &r) {
  json j = json::object();
  put_intent_fields(j, r.intent);
  j["rejection_reason"] = r.reason;
  j["rule"] = r.rule;
  merge_extra(j, r.intent.extra_json);
  return j;
}

json to_json(const Fill &f) {
  json j = json::object();
  j["corr_id"] = f.corr_id;
  put_if_set(j, "parent_corr_id", f.parent_corr_id);
  j["fill_id"] = f.fill_id;
  put_if_set(j, "order_id", f.order_id);
  put_if_set(j, "agent_id", f.agent_id);
  j["instrument"] = f.instrument;
  j["side"] = side_name(f.side);
  j["quantity_filled"] = f.quantity_filled;
  put_if_set(j, "quantity_requested", f.quantity_requested);
  j["avg_fill_price"] = f.avg_fill_price;
  j["fill_status"] = fill_status_name(f.fill_status);
  j["fill_timestamp"] = format_timestamp(f.fill_timestamp_ns);
  put_if_set(j, "rejection_reason", f.rejection_reason);
  put_if_set(j, "execution_venue", f.execution_venue);
  j["fees"] = json{{"commission", f.fees.commission},
                   {"exchange_fee", f.fees.exchange_fee},
                   {"regulatory_fee", f.fees.regulatory_fee}};
  put_if_set(j, "slippage_bps", f.slippage_bps);
  merge_extra(j, f.extra_json);
  return j;
}

json to_json(const Reconcile &r) {
  json j = json::object();
  j["corr_id"] = r.corr_id;
  put_if_set(j, "parent_corr_id", r.parent_corr_id);
  j["reconcile_id"] = r.reconcile_id;
  put_if_set(j, "agent_id", r.agent_id);
  put_if_set(j, "account_id", r.account_id);
  j["instrument"] = r.instrument;
  j["position_delta"] = r.position_delta;
  j["new_position"] = r.new_position;
  j["avg_entry_price"] = r.avg_entry_price;
  j["realized_pnl"] = r.realized_pnl;
  j["unrealized_pnl"] = r.unrealized_pnl;
  j["reconcile_timestamp"] = format_timestamp(r.reconcile_timestamp_ns);
  merge_extra(j, r.extra_json);
  return j;
}

json to_json(const AuditRecord &a) {
  json j = json::object();
  j["event_id"] = a.event_id;
  j["correlation_id"] = a.correlation_id;
  j["event_type"] = a.event_type;
  j["timestamp"] = format_timestamp(a.timestamp_ns);
  put_if_set(j, "service", a.service);
  if (a.data_json.empty()) {
    j["data"] = json::object();
  } else {
    json data = check_json_depth(a.data_json, max_bus_json_depth).ok
                    ? json::parse(a.data_json, nullptr, /*allow_exceptions=*/false)
                    : json(json::value_t::discarded); // too deep to dump: carried as a string
    // Encoding never fails: text that is not JSON is carried as a string rather than lost.
    j["data"] = data.is_discarded() ? json(a.data_json) : std::move(data);
  }
  return j;
}

json to_json(const Payload &p) {
  return std::visit([](const auto &event) { return to_json(event); }, p);
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------
namespace {

[[noreturn]] void fail(std::string_view field, const std::string &message) {
  throw DecodeError(std::string(field), message);
}

// The fields one payload has seen, as bits, so required ones can be checked after one pass.
class Seen {
public:
  void mark(unsigned bit) { bits_ |= 1u << bit; }
  bool has(unsigned bit) const { return (bits_ >> bit) & 1u; }

private:
  unsigned bits_ = 0;
};

void require(const Seen &seen, std::initializer_list<std::pair<unsigned, const char *>> required) {
  for (const auto &[bit, name] : required)
    if (!seen.has(bit))
      fail(name, "is required");
}

void require_object(const json &j, const char *what) {
  if (!j.is_object())
    fail(what, std::string("expected a JSON object, got ") + j.type_name());
}

const std::string &get_string(const json &v, std::string_view field) {
  if (!v.is_string())
    fail(field, std::string("expected a string, got ") + v.type_name());
  return v.get_ref<const std::string &>();
}

double get_number(const json &v, std::string_view field) {
  if (!v.is_number())
    fail(field, std::string("expected a number, got ") + v.type_name());
  const double d = v.get<double>();
  if (!std::isfinite(d))
    fail(field, "expected a finite number");
  return d;
}

std::optional<double> get_optional_number(const json &v, std::string_view field) {
  if (v.is_null())
    return std::nullopt;
  return get_number(v, field);
}

// An optional string: null reads as absent.
void read_optional_string(const json &v, std::string_view field, std::string &out) {
  if (v.is_null())
    return;
  out = get_string(v, field);
}

TimeNs get_time(const json &v, std::string_view field) {
  if (v.is_string()) {
    const std::string &text = v.get_ref<const std::string &>();
    if (auto t = parse_timestamp(text))
      return *t;
    fail(field, "expected an RFC 3339 timestamp such as 2025-01-15T10:30:01.250Z, got \"" + text + "\"");
  }
  // Unix seconds, accepted for robustness with producers that send numbers.
  constexpr double max_seconds = 9.2e9;
  if (v.is_number_integer()) {
    const int64_t s = v.get<int64_t>();
    if (s > max_seconds || s < -max_seconds)
      fail(field, "unix seconds out of range");
    return s * ns_per_second;
  }
  if (v.is_number_float()) {
    const double s = v.get<double>();
    if (!std::isfinite(s) || s > max_seconds || s < -max_seconds)
      fail(field, "unix seconds out of range");
    // A double holds about 7 decimals of a current unix time: keep microseconds, exactly.
    const double whole = std::floor(s);
    return static_cast<TimeNs>(whole) * ns_per_second + std::llround((s - whole) * 1e6) * 1000;
  }
  fail(field, std::string("expected an RFC 3339 timestamp string, got ") + v.type_name());
}

int32_t get_enum(const json &v, std::string_view field, int32_t (*from_name)(std::string_view),
                 const char *allowed) {
  const int32_t value = from_name(get_string(v, field));
  if (value == 0)
    fail(field, "\"" + v.get_ref<const std::string &>() + "\" is not one of " + allowed);
  return value;
}

void read_required(const json &v, std::string_view field, std::string &out, Seen &seen, unsigned bit) {
  out = get_string(v, field);
  seen.mark(bit);
}
void read_required(const json &v, std::string_view field, double &out, Seen &seen, unsigned bit) {
  out = get_number(v, field);
  seen.mark(bit);
}
void read_required_time(const json &v, std::string_view field, TimeNs &out, Seen &seen, unsigned bit) {
  out = get_time(v, field);
  seen.mark(bit);
}
void read_required_enum(const json &v, std::string_view field, int32_t &out,
                        int32_t (*from_name)(std::string_view), const char *allowed, Seen &seen,
                        unsigned bit) {
  out = get_enum(v, field, from_name, allowed);
  seen.mark(bit);
}

// Collects unmodelled fields; creates the object only when there is one.
class Extra {
public:
  void keep(const std::string &key, const json &value) {
    if (fields_.is_null())
      fields_ = json::object();
    fields_.emplace(key, value);
  }
  // For nested objects the model knows (fees, risk_params): keeps just their unknown keys.
  void keep_nested(const std::string &key, const std::string &inner_key, const json &value) {
    if (fields_.is_null())
      fields_ = json::object();
    fields_[key][inner_key] = value;
  }
  std::string text() const { return fields_.is_null() ? std::string() : fields_.dump(); }

private:
  json fields_; // null until something is kept
};

enum IntentBit : unsigned {
  intent_corr_id,
  intent_agent_id,
  intent_instrument,
  intent_side,
  intent_quantity,
  intent_order_type,
  intent_timestamp,
  intent_rejection_reason,
};

RiskParams risk_params_from_json(const json &v, Extra &extra) {
  RiskParams r;
  if (v.is_null())
    return r;
  require_object(v, "risk_params");
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string &k = it.key();
    if (k == "max_position")
      r.max_position = get_optional_number(*it, "risk_params.max_position");
    else if (k == "stop_loss")
      r.stop_loss = get_optional_number(*it, "risk_params.stop_loss");
    else if (k == "take_profit")
      r.take_profit = get_optional_number(*it, "risk_params.take_profit");
    else if (k == "max_slippage_bps")
      r.max_slippage_bps = get_optional_number(*it, "risk_params.max_slippage_bps");
    else
      extra.keep_nested("risk_params", k, *it);
  }
  return r;
}

// One pass over an intent; `rejection` is set when decoding decisions.rejected.
void decode_intent(const json &j, OrderIntent &o, Rejection *rejection) {
  require_object(j, rejection ? "Rejection" : "OrderIntent");
  Seen seen;
  Extra extra;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string &k = it.key();
    const json &v = *it;
    if (k == "corr_id")
      read_required(v, k, o.corr_id, seen, intent_corr_id);
    else if (k == "agent_id")
      read_required(v, k, o.agent_id, seen, intent_agent_id);
    else if (k == "instrument")
      read_required(v, k, o.instrument, seen, intent_instrument);
    else if (k == "side")
      read_required_enum(v, k, o.side, side_from_name, "buy, sell", seen, intent_side);
    else if (k == "quantity")
      read_required(v, k, o.quantity, seen, intent_quantity);
    else if (k == "order_type")
      read_required_enum(v, k, o.order_type, order_type_from_name, "market, limit, stop, stop_limit", seen,
                         intent_order_type);
    else if (k == "timestamp")
      read_required_time(v, k, o.timestamp_ns, seen, intent_timestamp);
    else if (k == "parent_corr_id")
      read_optional_string(v, k, o.parent_corr_id);
    else if (k == "order_id")
      read_optional_string(v, k, o.order_id);
    else if (k == "price_limit")
      o.price_limit = get_optional_number(v, k);
    else if (k == "stop_price")
      o.stop_price = get_optional_number(v, k);
    else if (k == "time_in_force") {
      if (!v.is_null())
        o.time_in_force = get_enum(v, k, time_in_force_from_name, "DAY, IOC, FOK, GTC, GTD");
    } else if (k == "strategy")
      read_optional_string(v, k, o.strategy);
    else if (k == "risk_params")
      o.risk_params = risk_params_from_json(v, extra);
    else if (rejection && k == "rejection_reason")
      read_required(v, k, rejection->reason, seen, intent_rejection_reason);
    else if (rejection && k == "rule")
      read_optional_string(v, k, rejection->rule);
    else
      extra.keep(k, v);
  }
  require(seen, {{intent_corr_id, "corr_id"},
                 {intent_agent_id, "agent_id"},
                 {intent_instrument, "instrument"},
                 {intent_side, "side"},
                 {intent_quantity, "quantity"},
                 {intent_order_type, "order_type"},
                 {intent_timestamp, "timestamp"}});
  if (rejection)
    require(seen, {{intent_rejection_reason, "rejection_reason"}});
  o.extra_json = extra.text();
}

} // namespace

Signal signal_from_json(const json &j) {
  require_object(j, "Signal");
  enum : unsigned { corr_id, instrument, signal, strength, timestamp };
  Signal s;
  Seen seen;
  Extra extra;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string &k = it.key();
    const json &v = *it;
    if (k == "corr_id")
      read_required(v, k, s.corr_id, seen, corr_id);
    else if (k == "instrument")
      read_required(v, k, s.instrument, seen, instrument);
    else if (k == "signal")
      read_required_enum(v, k, s.action, signal_action_from_name, "buy, sell, hold, close", seen, signal);
    else if (k == "strength")
      read_required(v, k, s.strength, seen, strength);
    else if (k == "timestamp")
      read_required_time(v, k, s.timestamp_ns, seen, timestamp);
    else if (k == "price")
      s.price = get_optional_number(v, k);
    else if (k == "source")
      read_optional_string(v, k, s.source);
    else if (k == "parent_corr_id")
      read_optional_string(v, k, s.parent_corr_id);
    else if (k == "received_at")
      s.received_ns = get_time(v, k);
    else
      extra.keep(k, v); // metadata and anything unknown
  }
  require(seen, {{corr_id, "corr_id"},
                 {instrument, "instrument"},
                 {signal, "signal"},
                 {strength, "strength"},
                 {timestamp, "timestamp"}});
  s.extra_json = extra.text();
  return s;
}

OrderIntent order_intent_from_json(const json &j) {
  OrderIntent o;
  decode_intent(j, o, nullptr);
  return o;
}

Rejection rejection_from_json(const json &j) {
  Rejection r;
  decode_intent(j, r.intent, &r);
  return r;
}

Fill fill_from_json(const json &j) {
  require_object(j, "Fill");
  enum : unsigned {
    corr_id,
    fill_id,
    instrument,
    side,
    quantity_filled,
    avg_fill_price,
    fill_status,
    fill_timestamp
  };
  Fill f;
  Seen seen;
  Extra extra;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string &k = it.key();
    const json &v = *it;
    if (k == "corr_id")
      read_required(v, k, f.corr_id, seen, corr_id);
    else if (k == "fill_id")
      read_required(v, k, f.fill_id, seen, fill_id);
    else if (k == "instrument")
      read_required(v, k, f.instrument, seen, instrument);
    else if (k == "side")
      read_required_enum(v, k, f.side, side_from_name, "buy, sell", seen, side);
    else if (k == "quantity_filled")
      read_required(v, k, f.quantity_filled, seen, quantity_filled);
    else if (k == "avg_fill_price")
      read_required(v, k, f.avg_fill_price, seen, avg_fill_price);
    else if (k == "fill_status")
      read_required_enum(v, k, f.fill_status, fill_status_from_name, "complete, partial, rejected, cancelled",
                         seen, fill_status);
    else if (k == "fill_timestamp")
      read_required_time(v, k, f.fill_timestamp_ns, seen, fill_timestamp);
    else if (k == "parent_corr_id")
      read_optional_string(v, k, f.parent_corr_id);
    else if (k == "order_id")
      read_optional_string(v, k, f.order_id);
    else if (k == "agent_id")
      read_optional_string(v, k, f.agent_id);
    else if (k == "quantity_requested")
      f.quantity_requested = get_optional_number(v, k);
    else if (k == "rejection_reason")
      read_optional_string(v, k, f.rejection_reason);
    else if (k == "execution_venue")
      read_optional_string(v, k, f.execution_venue);
    else if (k == "slippage_bps")
      f.slippage_bps = get_optional_number(v, k);
    else if (k == "fees") {
      if (v.is_null())
        continue;
      require_object(v, "fees");
      for (auto fee = v.begin(); fee != v.end(); ++fee) {
        const std::string &name = fee.key();
        if (name == "commission")
          f.fees.commission = get_number(*fee, "fees.commission");
        else if (name == "exchange_fee")
          f.fees.exchange_fee = get_number(*fee, "fees.exchange_fee");
        else if (name == "regulatory_fee")
          f.fees.regulatory_fee = get_number(*fee, "fees.regulatory_fee");
        else
          extra.keep_nested("fees", name, *fee);
      }
    } else
      extra.keep(k, v);
  }
  require(seen, {{corr_id, "corr_id"},
                 {fill_id, "fill_id"},
                 {instrument, "instrument"},
                 {side, "side"},
                 {quantity_filled, "quantity_filled"},
                 {avg_fill_price, "avg_fill_price"},
                 {fill_status, "fill_status"},
                 {fill_timestamp, "fill_timestamp"}});
  f.extra_json = extra.text();
  return f;
}

Reconcile reconcile_from_json(const json &j) {
  require_object(j, "Reconcile");
  enum : unsigned { corr_id, reconcile_id, instrument, position_delta, new_position, reconcile_timestamp };
  Reconcile r;
  Seen seen;
  Extra extra;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string &k = it.key();
    const json &v = *it;
    if (k == "corr_id")
      read_required(v, k, r.corr_id, seen, corr_id);
    else if (k == "reconcile_id")
      read_required(v, k, r.reconcile_id, seen, reconcile_id);
    else if (k == "instrument")
      read_required(v, k, r.instrument, seen, instrument);
    else if (k == "position_delta")
      read_required(v, k, r.position_delta, seen, position_delta);
    else if (k == "new_position")
      read_required(v, k, r.new_position, seen, new_position);
    else if (k == "reconcile_timestamp")
      read_required_time(v, k, r.reconcile_timestamp_ns, seen, reconcile_timestamp);
    else if (k == "parent_corr_id")
      read_optional_string(v, k, r.parent_corr_id);
    else if (k == "agent_id")
      read_optional_string(v, k, r.agent_id);
    else if (k == "account_id")
      read_optional_string(v, k, r.account_id);
    else if (k == "avg_entry_price")
      r.avg_entry_price = get_optional_number(v, k).value_or(0);
    else if (k == "realized_pnl")
      r.realized_pnl = get_optional_number(v, k).value_or(0);
    else if (k == "unrealized_pnl")
      r.unrealized_pnl = get_optional_number(v, k).value_or(0);
    else
      extra.keep(k, v);
  }
  require(seen, {{corr_id, "corr_id"},
                 {reconcile_id, "reconcile_id"},
                 {instrument, "instrument"},
                 {position_delta, "position_delta"},
                 {new_position, "new_position"},
                 {reconcile_timestamp, "reconcile_timestamp"}});
  r.extra_json = extra.text();
  return r;
}

AuditRecord audit_record_from_json(const json &j) {
  require_object(j, "AuditEvent");
  enum : unsigned { event_id, correlation_id, event_type, timestamp, data };
  AuditRecord a;
  Seen seen;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string &k = it.key();
    const json &v = *it;
    if (k == "event_id")
      read_required(v, k, a.event_id, seen, event_id);
    else if (k == "correlation_id")
      read_required(v, k, a.correlation_id, seen, correlation_id);
    else if (k == "event_type")
      read_required(v, k, a.event_type, seen, event_type);
    else if (k == "timestamp")
      read_required_time(v, k, a.timestamp_ns, seen, timestamp);
    else if (k == "service")
      read_optional_string(v, k, a.service);
    else if (k == "data") {
      if (!v.is_object())
        fail(k, std::string("expected a JSON object, got ") + v.type_name());
      a.data_json = v.dump();
      seen.mark(data);
    }
    // The envelope has no extra_json: chain fields (hash, previous_hash, chain_position) and
    // unknown keys belong to the stored row, which the audit sinks rebuild.
  }
  require(seen, {{event_id, "event_id"},
                 {correlation_id, "correlation_id"},
                 {event_type, "event_type"},
                 {timestamp, "timestamp"},
                 {data, "data"}});
  return a;
}

Payload payload_from_json(Subject subject, const json &j) {
  switch (subject) {
  case Subject::signals_normalized:
    return signal_from_json(j);
  case Subject::decisions_order_intent:
    return order_intent_from_json(j);
  case Subject::decisions_rejected:
    return rejection_from_json(j);
  case Subject::executions_fill:
    return fill_from_json(j);
  case Subject::executions_reconcile:
    return reconcile_from_json(j);
  case Subject::audit_event:
    return audit_record_from_json(j);
  }
  fail("subject", "unknown subject " + std::to_string(static_cast<int>(subject)));
}

} // namespace th
