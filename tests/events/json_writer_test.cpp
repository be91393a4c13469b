// write_json (the audit stage's direct encoder) gives the same JSON value as to_json().dump()
// for every payload: optional members present and absent, escapes, non-finite numbers, and
// events with unmodelled fields.
#include "events/json_codec.hpp"
#include "events/json_writer.hpp"
#include "sample_payloads.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using nlohmann::json;

namespace th {
namespace {

using namespace th::testing;

// Both texts parsed: equal values (nlohmann compares 1 and 1.0 as numbers).
void expect_same_value(const Payload &payload) {
  std::string written = "left over from the previous message";
  write_json(payload, written);
  json direct = json::parse(written);
  json reference = json::parse(to_json(payload).dump());
  EXPECT_EQ(direct, reference) << "write_json: " << written << "\nto_json:    " << reference.dump();
}

// The shared samples, with numbers that are hard to write and some optional members unset.
OrderIntent full_intent() {
  OrderIntent o = sample_intent();
  o.stop_price = 41500.25;
  o.risk_params.max_position.reset();
  o.risk_params.take_profit.reset();
  o.risk_params.max_slippage_bps = 5;
  return o;
}

Fill full_fill() {
  Fill f = sample_fill();
  f.parent_corr_id = "p";
  f.fill_status = TH_FILL_COMPLETE;
  f.avg_fill_price = 187.2537;
  f.fees = {0.5, 1e-7, 123456789.125};
  f.slippage_bps = -2.5;
  return f;
}

TEST(JsonWriter, SignalWithAndWithoutOptionalMembers) {
  Signal s;
  s.corr_id = "tv_0123abcd";
  s.instrument = "AAPL";
  s.action = TH_SIGNAL_BUY;
  s.strength = 0.8;
  s.timestamp_ns = sample_ns;
  expect_same_value(s);
  s.price = 187.25;
  s.source = "tradingview";
  s.parent_corr_id = "parent_1";
  s.received_ns = sample_ns + 5'000'000;
  expect_same_value(s);
  s.action = 99; // unknown action: an empty name, as the codec writes it
  expect_same_value(s);
}

TEST(JsonWriter, IntentAndRejection) {
  OrderIntent o = full_intent();
  expect_same_value(o);
  OrderIntent bare;
  bare.corr_id = "c";
  bare.agent_id = "a";
  bare.instrument = "AAPL";
  bare.side = TH_SIDE_BUY;
  bare.order_type = TH_ORDER_MARKET;
  bare.quantity = 1;
  expect_same_value(bare);
  Rejection r{o, "max_position", "limits: position 1000 would exceed 500"};
  expect_same_value(r);
}

TEST(JsonWriter, FillAndReconcile) {
  expect_same_value(full_fill());
  Fill minimal;
  minimal.corr_id = "c";
  minimal.fill_id = "f";
  minimal.instrument = "AAPL";
  expect_same_value(minimal);
  Reconcile r;
  r.corr_id = "c";
  r.reconcile_id = "rec-1";
  r.agent_id = "momentum-1";
  r.account_id = "acct";
  r.instrument = "AAPL";
  r.position_delta = -100;
  r.new_position = 0;
  r.avg_entry_price = 0.1 + 0.2; // not a short decimal: must still round-trip exactly
  r.realized_pnl = -0.0;
  r.unrealized_pnl = 1e21;
  r.reconcile_timestamp_ns = -1; // before 1970
  expect_same_value(r);
}

TEST(JsonWriter, EscapesAndNonAsciiText) {
  Fill f = full_fill();
  f.execution_venue = "quote \" backslash \\ newline \n tab \t bell \x07 unit \x1f caf\xc3\xa9 \xe2\x80\xa8";
  f.rejection_reason = std::string("nul \0 inside", 12);
  expect_same_value(f);
}

TEST(JsonWriter, NonFiniteNumbersAreNullLikeTheCodec) {
  Fill f = full_fill();
  f.avg_fill_price = std::numeric_limits<double>::quiet_NaN();
  f.quantity_filled = std::numeric_limits<double>::infinity();
  std::string written;
  write_json(f, written);
  json direct = json::parse(written);
  EXPECT_TRUE(direct["avg_fill_price"].is_null());
  EXPECT_TRUE(direct["quantity_filled"].is_null());
  expect_same_value(f);
}

TEST(JsonWriter, UnmodelledFieldsGoThroughTheCodec) {
  Signal s;
  s.corr_id = "c";
  s.instrument = "AAPL";
  s.action = TH_SIGNAL_SELL;
  s.extra_json = R"({"metadata":{"note":"x"},"custom":[1,2]})";
  expect_same_value(s);
  Fill f = full_fill();
  f.extra_json = R"({"fees":{"rebate":0.1},"venue_order":"v-1"})";
  expect_same_value(f);
  Rejection r{full_intent(), "rule", "reason"};
  r.intent.extra_json = R"({"tag":"t"})";
  expect_same_value(r);
}

TEST(JsonWriter, AuditRecordIsTheCodecsText) {
  AuditRecord a;
  a.event_id = "e";
  a.correlation_id = "c";
  a.event_type = "order_sent";
  a.timestamp_ns = sample_ns;
  a.data_json = R"({"b":1,"a":2})";
  std::string written;
  write_json(a, written);
  EXPECT_EQ(written, to_json(Payload(a)).dump());
}

} // namespace
} // namespace th
