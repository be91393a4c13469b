#include "events/json_writer.hpp"

#include "events/json_codec.hpp"

#include <charconv>
#include <cmath>
#include <optional>
#include <string_view>

namespace th {
namespace {

// Appends members of one JSON object; the caller keeps keys unique.
class ObjectWriter {
public:
  explicit ObjectWriter(std::string &out) : out_(out) { out_ += '{'; }
  void close() { out_ += '}'; }

  void string(std::string_view key, std::string_view value) {
    member(key);
    quoted(value);
  }
  void string_if_set(std::string_view key, std::string_view value) {
    if (!value.empty())
      string(key, value);
  }
  void number(std::string_view key, double value) {
    member(key);
    if (!std::isfinite(value)) { // what nlohmann::json writes for them
      out_ += "null";
      return;
    }
    char buffer[32];
    auto result = std::to_chars(buffer, buffer + sizeof buffer, value); // shortest round-trip
    out_.append(buffer, result.ptr);
  }
  void number_if_set(std::string_view key, const std::optional<double> &value) {
    if (value)
      number(key, *value);
  }
  void timestamp(std::string_view key, TimeNs ns) { string(key, format_timestamp(ns)); }
  // Opens a nested object as this member's value; close it before the next member.
  ObjectWriter object(std::string_view key) {
    member(key);
    return ObjectWriter(out_);
  }

private:
  void member(std::string_view key) {
    if (!first_)
      out_ += ',';
    first_ = false;
    quoted(key);
    out_ += ':';
  }
  // JSON string escaping: quote, backslash and control characters; everything else as is.
  void quoted(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    out_ += '"';
    size_t run = 0; // start of the bytes not yet copied
    for (size_t i = 0; i < text.size(); ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c >= 0x20 && c != '"' && c != '\\')
        continue;
      out_.append(text.data() + run, i - run);
      run = i + 1;
      switch (c) {
      case '"':
        out_ += "\\\"";
        break;
      case '\\':
        out_ += "\\\\";
        break;
      case '\n':
        out_ += "\\n";
        break;
      case '\r':
        out_ += "\\r";
        break;
      case '\t':
        out_ += "\\t";
        break;
      default:
        out_ += "\\u00";
        out_ += hex[c >> 4];
        out_ += hex[c & 0xF];
      }
    }
    out_.append(text.data() + run, text.size() - run);
    out_ += '"';
  }

  std::string &out_;
  bool first_ = true;
};

void write_intent_members(ObjectWriter &w, const OrderIntent &o) {
  w.string("corr_id", o.corr_id);
  w.string_if_set("parent_corr_id", o.parent_corr_id);
  w.string("agent_id", o.agent_id);
  w.string_if_set("order_id", o.order_id);
  w.string("instrument", o.instrument);
  w.string("side", side_name(o.side));
  w.number("quantity", o.quantity);
  w.string("order_type", order_type_name(o.order_type));
  w.timestamp("timestamp", o.timestamp_ns);
  w.number_if_set("price_limit", o.price_limit);
  w.number_if_set("stop_price", o.stop_price);
  if (o.time_in_force != 0)
    w.string("time_in_force", time_in_force_name(o.time_in_force));
  w.string_if_set("strategy", o.strategy);
  const RiskParams &r = o.risk_params;
  if (r.max_position || r.stop_loss || r.take_profit || r.max_slippage_bps) {
    ObjectWriter risk = w.object("risk_params");
    risk.number_if_set("max_position", r.max_position);
    risk.number_if_set("stop_loss", r.stop_loss);
    risk.number_if_set("take_profit", r.take_profit);
    risk.number_if_set("max_slippage_bps", r.max_slippage_bps);
    risk.close();
  }
}

void write(const Signal &s, ObjectWriter &w) {
  w.string("corr_id", s.corr_id);
  w.string_if_set("parent_corr_id", s.parent_corr_id);
  w.string("instrument", s.instrument);
  w.string("signal", signal_action_name(s.action));
  w.number("strength", s.strength);
  w.timestamp("timestamp", s.timestamp_ns);
  w.number_if_set("price", s.price);
  w.string_if_set("source", s.source);
  if (s.received_ns != 0)
    w.timestamp("received_at", s.received_ns);
}

void write(const OrderIntent &o, ObjectWriter &w) {
  write_intent_members(w, o);
}

void write(const Rejection &r, ObjectWriter &w) {
  write_intent_members(w, r.intent);
  w.string("rejection_reason", r.reason);
  w.string("rule", r.rule);
}

void write(const Fill &f, ObjectWriter &w) {
  w.string("corr_id", f.corr_id);
  w.string_if_set("parent_corr_id", f.parent_corr_id);
  w.string("fill_id", f.fill_id);
  w.string_if_set("order_id", f.order_id);
  w.string_if_set("agent_id", f.agent_id);
  w.string("instrument", f.instrument);
  w.string("side", side_name(f.side));
  w.number("quantity_filled", f.quantity_filled);
  w.number_if_set("quantity_requested", f.quantity_requested);
  w.number("avg_fill_price", f.avg_fill_price);
  w.string("fill_status", fill_status_name(f.fill_status));
  w.timestamp("fill_timestamp", f.fill_timestamp_ns);
  w.string_if_set("rejection_reason", f.rejection_reason);
  w.string_if_set("execution_venue", f.execution_venue);
  ObjectWriter fees = w.object("fees");
  fees.number("commission", f.fees.commission);
  fees.number("exchange_fee", f.fees.exchange_fee);
  fees.number("regulatory_fee", f.fees.regulatory_fee);
  fees.close();
  w.number_if_set("slippage_bps", f.slippage_bps);
}

void write(const Reconcile &r, ObjectWriter &w) {
  w.string("corr_id", r.corr_id);
  w.string_if_set("parent_corr_id", r.parent_corr_id);
  w.string("reconcile_id", r.reconcile_id);
  w.string_if_set("agent_id", r.agent_id);
  w.string_if_set("account_id", r.account_id);
  w.string("instrument", r.instrument);
  w.number("position_delta", r.position_delta);
  w.number("new_position", r.new_position);
  w.number("avg_entry_price", r.avg_entry_price);
  w.number("realized_pnl", r.realized_pnl);
  w.number("unrealized_pnl", r.unrealized_pnl);
  w.timestamp("reconcile_timestamp", r.reconcile_timestamp_ns);
}

const std::string &extra_json_of(const Payload &payload) {
  static const std::string none;
  return std::visit(
      [](const auto &p) -> const std::string & {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, Rejection>)
          return p.intent.extra_json;
        else if constexpr (std::is_same_v<T, AuditRecord>)
          return none;
        else
          return p.extra_json;
      },
      payload);
}

} // namespace

void write_json(const OrderIntent &intent, std::string &out) {
  out.clear();
  if (!intent.extra_json.empty()) {
    out = to_json(intent).dump();
    return;
  }
  ObjectWriter w(out);
  write(intent, w);
  w.close();
}

void write_json(const Payload &payload, std::string &out) {
  out.clear();
  if (std::holds_alternative<AuditRecord>(payload) || !extra_json_of(payload).empty()) {
    out = to_json(payload).dump(); // rare here: the merge rules live in the codec
    return;
  }
  ObjectWriter w(out);
  std::visit(
      [&](const auto &p) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(p)>, AuditRecord>)
          write(p, w);
      },
      payload);
  w.close();
}

} // namespace th
