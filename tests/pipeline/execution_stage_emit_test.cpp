// The execution stage's host services (pipeline/execution_stage) without an executor: what a
// fill or reconcile an executor emits becomes on executions.fill / executions.reconcile. The
// message ids the bus de-duplicates by, the fields the host fills in (venue, timestamps), and
// invalid ones refused without publishing. Deliveries awaited with wait_idle(), never slept for.
#include "bus/embedded_bus.hpp"
#include "events/c_view.hpp"
#include "pipeline/execution_stage.hpp"
#include "published_messages.hpp"

#include "../events/sample_payloads.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

namespace th {
namespace {

class ExecutionStageEmit : public ::testing::Test {
protected:
  void SetUp() override {
    bus->start();
    clock.set_replay_time(1736937000000000000);
  }
  void TearDown() override { bus->stop(); }

  std::vector<Message> executions() { return published.all(); }

  // The sample fill without what the host fills in.
  static Fill fill(const std::string &fill_id) {
    Fill f = testing::sample_fill();
    f.corr_id = "sig_1";
    f.fill_id = fill_id;
    f.order_id = "sig_1.momentum_v1.1";
    f.execution_venue.clear();
    f.fill_timestamp_ns = 0;
    return f;
  }

  const InstanceContext sim{"sim", "exec-sim", "1.0.0", TH_KIND_EXECUTOR};
  std::unique_ptr<Bus> bus = make_embedded_bus();
  Metrics metrics;
  Portfolio portfolio;
  Clock clock;
  ExecutionStage stage{StageContext{*bus, metrics, portfolio, clock}};
  testing::PublishedMessages published{*bus, {Subject::executions_fill, Subject::executions_reconcile}};
};

TEST_F(ExecutionStageEmit, AFillIsPublishedUnderItsFillIdWithTheHostsFields) {
  ASSERT_EQ(stage.emit_fill(sim, view_of(fill("f-1"))), TH_OK);
  Fill with_venue = fill("f-2");
  with_venue.execution_venue = "NASDAQ";
  with_venue.fill_timestamp_ns = 42;
  ASSERT_EQ(stage.emit_fill(sim, view_of(with_venue)), TH_OK);
  auto out = executions();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].subject, Subject::executions_fill);
  EXPECT_EQ(out[0].msg_id, "sig_1:fill:f-1");
  const auto &first = std::get<Fill>(out[0].payload);
  EXPECT_EQ(first.execution_venue, "exec-sim");            // the plugin's name when unset
  EXPECT_EQ(first.fill_timestamp_ns, 1736937000000000000); // the host's clock when unset
  EXPECT_EQ(first.order_id, "sig_1.momentum_v1.1");
  EXPECT_DOUBLE_EQ(first.avg_fill_price, 2500.25);
  const auto &second = std::get<Fill>(out[1].payload);
  EXPECT_EQ(out[1].msg_id, "sig_1:fill:f-2");
  EXPECT_EQ(second.execution_venue, "NASDAQ"); // the executor's own, kept
  EXPECT_EQ(second.fill_timestamp_ns, 42);
  EXPECT_EQ(stage.fills(), 2u);
}

TEST_F(ExecutionStageEmit, AFillWithoutItsIdsIsRefusedAndNotPublished) {
  EXPECT_EQ(stage.emit_fill(sim, view_of(fill(""))), TH_INVALID_ARGUMENT);
  Fill no_instrument = fill("f-1");
  no_instrument.instrument.clear();
  EXPECT_EQ(stage.emit_fill(sim, view_of(no_instrument)), TH_INVALID_ARGUMENT);
  Fill no_corr = fill("f-1");
  no_corr.corr_id.clear(); // outside a hand-over there is no intent to take it from
  EXPECT_EQ(stage.emit_fill(sim, view_of(no_corr)), TH_INVALID_ARGUMENT);
  EXPECT_TRUE(executions().empty());
  EXPECT_EQ(stage.fills(), 0u);
}

TEST_F(ExecutionStageEmit, AReconcileIsPublishedUnderItsReconcileId) {
  Reconcile r = testing::sample_reconcile();
  r.corr_id = "sig_1";
  r.reconcile_id = "r-1";
  r.reconcile_timestamp_ns = 0;
  ASSERT_EQ(stage.emit_reconcile(sim, view_of(r)), TH_OK);
  Reconcile no_id = r;
  no_id.reconcile_id.clear();
  EXPECT_EQ(stage.emit_reconcile(sim, view_of(no_id)), TH_INVALID_ARGUMENT);
  auto out = executions();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].subject, Subject::executions_reconcile);
  EXPECT_EQ(out[0].msg_id, "sig_1:reconcile:r-1");
  EXPECT_EQ(std::get<Reconcile>(out[0].payload).reconcile_timestamp_ns, 1736937000000000000);
}

} // namespace
} // namespace th
