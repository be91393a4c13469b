// Contract JSON: round trips for every payload, unknown fields kept, required fields named in
// errors, and the RFC 3339 timestamp format.
#include "events/json_codec.hpp"
#include "sample_payloads.hpp"

#include <gtest/gtest.h>

using nlohmann::json;

namespace th {
namespace {

using namespace th::testing;

// ---- timestamps ----

TEST(CodecTimestamp, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(format_timestamp(sample_ns), "2025-01-15T10:30:01.250Z");
  EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_timestamp(sample_ns + 999'999), "2025-01-15T10:30:01.250Z"); // truncates
  EXPECT_EQ(format_timestamp(-1), "1969-12-31T23:59:59.999Z");                  // floors
  EXPECT_EQ(format_timestamp(951782400LL * 1'000'000'000), "2000-02-29T00:00:00.000Z");
}

TEST(CodecTimestamp, ParsesFractionsAndZ) {
  EXPECT_EQ(parse_timestamp("2025-01-15T10:30:01.250Z"), sample_ns);
  EXPECT_EQ(parse_timestamp("2025-01-15T10:30:01.25Z"), sample_ns);
  EXPECT_EQ(parse_timestamp("2025-01-15T10:30:01Z"), sample_ns - 250'000'000);
  EXPECT_EQ(parse_timestamp("2025-01-15T10:30:01.123456789Z"), sample_ns - 250'000'000 + 123'456'789);
  EXPECT_EQ(parse_timestamp("2025-01-15T10:30:01.1234567891Z"), sample_ns - 250'000'000 + 123'456'789);
  EXPECT_EQ(parse_timestamp("2025-01-15t10:30:01.250z"), sample_ns);
}

// Nanoseconds since 1970 in 64 bits span 1677-09-21 to 2262-04-11: beyond, no overflow (found by
// fuzz_json_codec), the time is refused.
TEST(CodecTimestamp, RefusesTimesBeyondSixtyFourBitNanoseconds) {
  EXPECT_FALSE(parse_timestamp("1012-01-15T10:30:00Z"));
  EXPECT_FALSE(parse_timestamp("0001-01-01T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp("9999-12-31T23:59:59.999Z"));
  EXPECT_TRUE(parse_timestamp("1700-01-01T00:00:00Z"));
  EXPECT_TRUE(parse_timestamp("2262-01-01T00:00:00Z"));
}

TEST(CodecTimestamp, ParsesOffsets) {
  EXPECT_EQ(parse_timestamp("2025-01-15T12:30:01.250+02:00"), sample_ns);
  EXPECT_EQ(parse_timestamp("2025-01-15T05:00:01.250-05:30"), sample_ns);
  EXPECT_EQ(parse_timestamp("2025-01-15T10:30:01.250+00:00"), sample_ns);
  EXPECT_EQ(parse_timestamp("2025-01-16T00:30:01.250+14:00"), sample_ns);
}

TEST(CodecTimestamp, RejectsMalformed) {
  for (const char *bad :
       {"", "2025-01-15", "2025-01-15T10:30:01", "2025-01-15T10:30:01.Z", "2025-13-15T10:30:01Z",
        "2025-02-30T10:30:01Z", "2025-01-15T24:00:00Z", "2025-01-15T10:30:01+0200",
        "2025-01-15T10:30:01Zjunk", "2025/01/15T10:30:01Z", "2025-01-15T10:61:01Z", "abcd-01-15T10:30:01Z"})
    EXPECT_FALSE(parse_timestamp(bad).has_value()) << bad;
}

TEST(CodecTimestamp, FormatParseRoundTripAtMillisecondPrecision) {
  for (TimeNs ms : {0LL, 1LL, 999LL, 1736937001250LL, 4102444799999LL, 951868800000LL}) {
    const TimeNs ns = ms * 1'000'000;
    EXPECT_EQ(parse_timestamp(format_timestamp(ns)), ns) << format_timestamp(ns);
  }
}

// ---- enums ----

TEST(CodecEnums, ContractStrings) {
  EXPECT_EQ(signal_action_name(TH_SIGNAL_CLOSE), "close");
  EXPECT_EQ(side_name(TH_SIDE_SELL), "sell");
  EXPECT_EQ(order_type_name(TH_ORDER_STOP_LIMIT), "stop_limit");
  EXPECT_EQ(time_in_force_name(TH_TIF_GTD), "GTD");
  EXPECT_EQ(time_in_force_name(0), "DAY");
  EXPECT_EQ(fill_status_name(TH_FILL_CANCELLED), "cancelled");
  EXPECT_EQ(signal_action_from_name("hold"), TH_SIGNAL_HOLD);
  EXPECT_EQ(order_type_from_name("limit"), TH_ORDER_LIMIT);
  EXPECT_EQ(time_in_force_from_name("FOK"), TH_TIF_FOK);
  EXPECT_EQ(fill_status_from_name("complete"), TH_FILL_COMPLETE);
  EXPECT_EQ(side_from_name("hold"), 0);
  EXPECT_EQ(side_name(7), "");
}

// ---- payloads ----

TEST(CodecSignal, EncodesContractFields) {
  const json j = to_json(sample_signal());
  EXPECT_EQ(j, json::parse(R"({"corr_id":"tradingview_0123abcd","instrument":"BTC/USDT","signal":"buy",
    "strength":0.75,"price":42000.5,"timestamp":"2025-01-15T10:30:01.250Z","source":"tradingview"})"));
}

TEST(CodecSignal, ReceivedAtRoundTripsAndIsNotAnUnknownField) {
  Signal s = sample_signal();
  s.received_ns = 1736937001262000000;
  const json j = to_json(s);
  EXPECT_EQ(j.at("received_at"), "2025-01-15T10:30:01.262Z");
  const Signal back = signal_from_json(j);
  EXPECT_EQ(back.received_ns, s.received_ns);
  EXPECT_TRUE(back.extra_json.empty()) << back.extra_json;
}

TEST(CodecSignal, OmitsAbsentOptionalFields) {
  Signal s = sample_signal();
  s.price.reset();
  s.source.clear();
  const json j = to_json(s);
  EXPECT_FALSE(j.contains("price"));
  EXPECT_FALSE(j.contains("source"));
  EXPECT_FALSE(j.contains("parent_corr_id"));
  EXPECT_FALSE(j.contains("metadata"));
  EXPECT_FALSE(j.contains("received_at"));
}

TEST(CodecSignal, RoundTripsWithMetadataAndUnknownFields) {
  const json wire = json::parse(R"({"corr_id":"custom_00ff00ff","instrument":"AAPL","signal":"sell",
    "strength":1,"timestamp":"2025-01-15T10:30:01.250Z","source":"custom",
    "metadata":{"note":"x","nested":{"a":[1,2]}},"x_vendor":{"k":true},"x_count":3})");
  const Signal s = signal_from_json(wire);
  EXPECT_EQ(s.corr_id, "custom_00ff00ff");
  EXPECT_EQ(s.action, TH_SIGNAL_SELL);
  EXPECT_EQ(s.timestamp_ns, sample_ns);
  EXPECT_FALSE(s.price.has_value());
  EXPECT_EQ(
      json::parse(s.extra_json),
      json::parse(R"({"metadata":{"note":"x","nested":{"a":[1,2]}},"x_vendor":{"k":true},"x_count":3})"));
  EXPECT_EQ(to_json(s), wire);
}

TEST(CodecSignal, AcceptsUnixSecondsAndOffsetTimestamps) {
  json wire = to_json(sample_signal());
  wire["timestamp"] = 1736937001;
  EXPECT_EQ(signal_from_json(wire).timestamp_ns, sample_ns - 250'000'000);
  wire["timestamp"] = 1736937001.25;
  EXPECT_EQ(signal_from_json(wire).timestamp_ns, sample_ns);
  wire["timestamp"] = "2025-01-15T11:30:01.250+01:00";
  EXPECT_EQ(signal_from_json(wire).timestamp_ns, sample_ns);
  EXPECT_EQ(to_json(signal_from_json(wire))["timestamp"], "2025-01-15T10:30:01.250Z");
}

TEST(CodecOrderIntent, RoundTripsEveryField) {
  const OrderIntent o = sample_intent();
  const json j = to_json(o);
  EXPECT_EQ(j["side"], "sell");
  EXPECT_EQ(j["order_type"], "stop_limit");
  EXPECT_EQ(j["time_in_force"], "IOC");
  EXPECT_EQ(j["risk_params"], json::parse(R"({"max_position":2,"stop_loss":0.02,"take_profit":0.05,
    "max_slippage_bps":10})"));
  const OrderIntent back = order_intent_from_json(j);
  EXPECT_EQ(back.corr_id, o.corr_id);
  EXPECT_EQ(back.parent_corr_id, o.parent_corr_id);
  EXPECT_EQ(back.agent_id, o.agent_id);
  EXPECT_EQ(j["order_id"], "tradingview_0123abcd.momentum-1.1"); // contract addition 2026-12-02
  EXPECT_EQ(back.order_id, o.order_id);
  EXPECT_EQ(back.side, o.side);
  EXPECT_EQ(back.order_type, o.order_type);
  EXPECT_EQ(back.time_in_force, o.time_in_force);
  EXPECT_EQ(back.quantity, o.quantity);
  EXPECT_EQ(back.price_limit, o.price_limit);
  EXPECT_EQ(back.stop_price, o.stop_price);
  EXPECT_EQ(back.timestamp_ns, o.timestamp_ns);
  EXPECT_EQ(back.strategy, o.strategy);
  EXPECT_EQ(back.risk_params.max_slippage_bps, 10);
  EXPECT_TRUE(back.extra_json.empty());
  EXPECT_EQ(to_json(back), j);
}

TEST(CodecOrderIntent, MinimalIntentOmitsOptionals) {
  OrderIntent o = sample_intent();
  o.parent_corr_id.clear();
  o.price_limit.reset();
  o.stop_price.reset();
  o.time_in_force = 0;
  o.strategy.clear();
  o.risk_params = {};
  o.order_id.clear();
  const json j = to_json(o);
  EXPECT_EQ(j.size(), 7u) << j.dump();
  EXPECT_EQ(order_intent_from_json(j).time_in_force, 0);
}

TEST(CodecOrderIntent, UnknownFieldsIncludingNestedRiskParamsSurvive) {
  json wire = to_json(sample_intent());
  wire["x_route"] = "smart";
  wire["risk_params"]["x_trailing"] = 0.01;
  const OrderIntent o = order_intent_from_json(wire);
  EXPECT_EQ(o.risk_params.stop_loss, 0.02);
  EXPECT_EQ(to_json(o), wire);
}

TEST(CodecRejection, IsTheIntentPlusReasonAndRule) {
  Rejection r{sample_intent(), "max_position", "position would exceed 2"};
  r.intent.extra_json = R"({"x_desk":"fx"})";
  const json j = to_json(r);
  EXPECT_EQ(j["rejection_reason"], "position would exceed 2");
  EXPECT_EQ(j["rule"], "max_position");
  EXPECT_EQ(j["agent_id"], "momentum-1");
  EXPECT_EQ(j["x_desk"], "fx");
  const Rejection back = rejection_from_json(j);
  EXPECT_EQ(back.reason, r.reason);
  EXPECT_EQ(back.rule, r.rule);
  EXPECT_EQ(back.intent.quantity, 0.5);
  EXPECT_EQ(json::parse(back.intent.extra_json), json::parse(R"({"x_desk":"fx"})"));
  EXPECT_EQ(to_json(back), j);
  // As a plain intent, the rejection fields are unknown ones and are kept.
  EXPECT_EQ(to_json(order_intent_from_json(j)), j);
}

TEST(CodecFill, RoundTripsWithFeesObjectAndAgentId) {
  const Fill f = sample_fill();
  const json j = to_json(f);
  EXPECT_EQ(j["fees"], json::parse(R"({"commission":1.5,"exchange_fee":0.25,"regulatory_fee":0.125})"));
  EXPECT_EQ(j["fill_status"], "partial");
  EXPECT_EQ(j["fill_timestamp"], "2025-01-15T10:30:01.250Z");
  EXPECT_EQ(j["agent_id"], "momentum-1");
  const Fill back = fill_from_json(j);
  EXPECT_EQ(back.fill_id, f.fill_id);
  EXPECT_EQ(back.order_id, f.order_id);
  EXPECT_EQ(back.agent_id, f.agent_id);
  EXPECT_EQ(back.quantity_requested, f.quantity_requested);
  EXPECT_EQ(back.fees.regulatory_fee, 0.125);
  EXPECT_EQ(back.slippage_bps, 3.5);
  EXPECT_EQ(to_json(back), j);
}

TEST(CodecFill, UnknownFieldsAndUnknownFeeKeysSurvive) {
  json wire = to_json(sample_fill());
  wire["x_liquidity"] = "maker";
  wire["fees"]["x_rebate"] = -0.1;
  const Fill f = fill_from_json(wire);
  EXPECT_EQ(f.fees.commission, 1.5);
  EXPECT_EQ(to_json(f), wire);
}

TEST(CodecReconcile, RoundTripsWithAgentId) {
  const Reconcile r = sample_reconcile();
  json j = to_json(r);
  EXPECT_EQ(j["reconcile_timestamp"], "2025-01-15T10:30:01.250Z");
  EXPECT_EQ(j["position_delta"], -0.25);
  EXPECT_EQ(j["agent_id"], "momentum-1");
  const Reconcile back = reconcile_from_json(j);
  EXPECT_EQ(back.account_id, "acct-7");
  EXPECT_EQ(back.realized_pnl, 25);
  EXPECT_EQ(to_json(back), j);
  j["x_book"] = json::array({1, "two"});
  EXPECT_EQ(to_json(reconcile_from_json(j)), j);
}

TEST(CodecAuditRecord, RoundTripsDataObject) {
  const AuditRecord a = sample_audit();
  const json j = to_json(a);
  EXPECT_EQ(j["data"], json::parse(R"({"fill_id":"fill-1","qty":1})"));
  EXPECT_EQ(j["correlation_id"], "tradingview_0123abcd");
  const AuditRecord back = audit_record_from_json(j);
  EXPECT_EQ(back.event_type, "fill_received");
  EXPECT_EQ(json::parse(back.data_json), j["data"]);
  EXPECT_EQ(to_json(back), j);
}

TEST(CodecPayload, DispatchesOnSubject) {
  const json j = to_json(Payload{sample_fill()});
  const Payload p = payload_from_json(Subject::executions_fill, j);
  ASSERT_TRUE(std::holds_alternative<Fill>(p));
  EXPECT_EQ(std::get<Fill>(p).fill_id, "fill-1");
  EXPECT_TRUE(std::holds_alternative<Signal>(
      payload_from_json(Subject::signals_normalized, to_json(sample_signal()))));
  EXPECT_TRUE(std::holds_alternative<Rejection>(
      payload_from_json(Subject::decisions_rejected, to_json(Rejection{sample_intent(), "r", "why"}))));
}

// ---- errors ----

template <class Decode> std::string error_field(Decode decode, const json &j) {
  try {
    decode(j);
  } catch (const DecodeError &e) {
    EXPECT_NE(std::string(e.what()).find(e.field), std::string::npos) << e.what();
    return e.field;
  }
  return "<no error>";
}

TEST(CodecDecodeErrors, EveryMissingRequiredFieldIsNamed) {
  const auto check_all = [](const json &full, auto decode, std::initializer_list<const char *> required) {
    for (const char *field : required) {
      json j = full;
      j.erase(field);
      EXPECT_EQ(error_field(decode, j), field);
    }
  };
  check_all(to_json(sample_signal()), signal_from_json,
            {"corr_id", "instrument", "signal", "strength", "timestamp"});
  check_all(to_json(sample_intent()), order_intent_from_json,
            {"corr_id", "agent_id", "instrument", "side", "quantity", "order_type", "timestamp"});
  check_all(to_json(Rejection{sample_intent(), "r", "why"}), rejection_from_json,
            {"corr_id", "rejection_reason"});
  check_all(to_json(sample_fill()), fill_from_json,
            {"corr_id", "fill_id", "instrument", "side", "quantity_filled", "avg_fill_price", "fill_status",
             "fill_timestamp"});
  check_all(
      to_json(sample_reconcile()), reconcile_from_json,
      {"corr_id", "reconcile_id", "instrument", "position_delta", "new_position", "reconcile_timestamp"});
  check_all(to_json(sample_audit()), audit_record_from_json,
            {"event_id", "correlation_id", "event_type", "timestamp", "data"});
}

TEST(CodecDecodeErrors, WrongTypesAndValuesAreNamed) {
  json s = to_json(sample_signal());
  s["strength"] = "high";
  EXPECT_EQ(error_field(signal_from_json, s), "strength");
  s = to_json(sample_signal());
  s["signal"] = "maybe";
  EXPECT_EQ(error_field(signal_from_json, s), "signal");
  s = to_json(sample_signal());
  s["timestamp"] = "yesterday";
  EXPECT_EQ(error_field(signal_from_json, s), "timestamp");
  s = to_json(sample_signal());
  s["price"] = "1.0";
  EXPECT_EQ(error_field(signal_from_json, s), "price");

  json o = to_json(sample_intent());
  o["risk_params"]["stop_loss"] = "tight";
  EXPECT_EQ(error_field(order_intent_from_json, o), "risk_params.stop_loss");
  o = to_json(sample_intent());
  o["time_in_force"] = "forever";
  EXPECT_EQ(error_field(order_intent_from_json, o), "time_in_force");

  json f = to_json(sample_fill());
  f["fees"]["commission"] = nullptr;
  EXPECT_EQ(error_field(fill_from_json, f), "fees.commission");
  f = to_json(sample_fill());
  f["fill_status"] = "done";
  EXPECT_EQ(error_field(fill_from_json, f), "fill_status");

  EXPECT_EQ(error_field(signal_from_json, json::array()), "Signal");
}

TEST(CodecDecodeErrors, NullOptionalFieldsReadAsAbsent) {
  json s = to_json(sample_signal());
  s["price"] = nullptr;
  s["source"] = nullptr;
  const Signal back = signal_from_json(s);
  EXPECT_FALSE(back.price.has_value());
  EXPECT_TRUE(back.source.empty());
}

} // namespace
} // namespace th
