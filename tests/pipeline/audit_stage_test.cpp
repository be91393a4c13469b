// The audit stage's records for a bus message: a signal the gateway accepted (received_at set)
// stands for its webhook too, so it gives webhook_received and then signal_published; a signal
// that did not come through the gateway (replay) gives signal_published only.
#include "bus/embedded_bus.hpp"
#include "pipeline/audit_stage.hpp"
#include "pipeline/clock.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace th {
namespace {

constexpr TimeNs sent_ns = 1736937001250000000;     // 2025-01-15T10:30:01.250Z
constexpr TimeNs received_ns = 1736937001262000000; // 12 ms later

Message signal_message(TimeNs received) {
  Signal s;
  s.corr_id = "test_019ab0c1d2e3f000000000001";
  s.instrument = "AAPL";
  s.action = TH_SIGNAL_BUY;
  s.strength = 0.8;
  s.timestamp_ns = sent_ns;
  s.received_ns = received;
  return Message{Subject::signals_normalized, s, s.corr_id + ":signal"};
}

double audited(Metrics &metrics, const std::string &event_type) {
  std::istringstream in(metrics.serialize());
  const std::string sample = R"(audit_events_total{event_type=")" + event_type + R"("} )";
  for (std::string line; std::getline(in, line);)
    if (line.rfind(sample, 0) == 0)
      return std::stod(line.substr(sample.size()));
  return 0;
}

TEST(AuditStage, AnAcceptedSignalIsRecordedAsItsWebhookAndAsPublished) {
  auto bus = make_embedded_bus();
  Metrics metrics;
  Portfolio portfolio;
  Clock clock;
  AuditStage stage({*bus, metrics, portfolio, clock});
  stage.handle(signal_message(received_ns));
  EXPECT_EQ(audited(metrics, "webhook_received"), 1);
  EXPECT_EQ(audited(metrics, "signal_published"), 1);
  stage.handle(signal_message(0)); // a replayed signal: no webhook behind it
  EXPECT_EQ(audited(metrics, "webhook_received"), 1);
  EXPECT_EQ(audited(metrics, "signal_published"), 2);
}

TEST(AuditStage, TheReceiptRecordHasItsOwnIdTypeAndTime) {
  AuditRecord published = audit_record_for(signal_message(received_ns));
  AuditRecord receipt;
  describe_receipt_into(published, received_ns, receipt);
  EXPECT_EQ(receipt.event_type, "webhook_received");
  EXPECT_EQ(receipt.event_id, "webhook_received:test_019ab0c1d2e3f000000000001");
  EXPECT_EQ(receipt.correlation_id, published.correlation_id);
  EXPECT_EQ(receipt.timestamp_ns, received_ns);
  EXPECT_EQ(published.timestamp_ns, sent_ns);
  EXPECT_EQ(receipt.service, "gateway");
  EXPECT_EQ(receipt.data_json, published.data_json);
  EXPECT_NE(receipt.data_json.find(R"("received_at":"2025-01-15T10:30:01.262Z")"), std::string::npos)
      << receipt.data_json;
}

} // namespace
} // namespace th
