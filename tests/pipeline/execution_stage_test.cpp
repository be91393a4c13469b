// Issue 13 finding 15, the executor part: with an order store the execution stage hands an order
// to the executor at most once, across redeliveries and a restart (a new stage and executor on the
// same store), republishes the fills it recorded with the hand-over, and reports an order whose
// outcome was never recorded as order_in_doubt instead of sending it again. The real exec-sim.
#include "bus/embedded_bus.hpp"
#include "bus/file_key_value.hpp"
#include "loader/plugin_registry.hpp"
#include "pipeline/agent_stage.hpp"
#include "pipeline/clock.hpp"
#include "pipeline/execution_stage.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <sstream>

namespace th {
namespace {

struct TempDir {
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tradehost-exec-XXXXXX").string();
    if (!::mkdtemp(pattern.data()))
      throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::filesystem::path path;
};

// Everything published, in order.
struct Published {
  std::mutex mutex;
  std::vector<Message> messages;
  std::vector<Message> of(Subject subject) {
    std::lock_guard lock(mutex);
    std::vector<Message> out;
    for (const auto &m : messages)
      if (m.subject == subject)
        out.push_back(m);
    return out;
  }
};

double counter(Metrics &metrics, const std::string &sample) {
  std::istringstream in(metrics.serialize());
  double total = 0;
  for (std::string line; std::getline(in, line);)
    if (line.rfind(sample, 0) == 0)
      total += std::stod(line.substr(line.rfind(' ') + 1));
  return total;
}

// A store whose first create is written but answered "unavailable": a PubAck lost in an outage.
class LostFirstAnswer : public KeyValue {
public:
  explicit LostFirstAnswer(std::shared_ptr<KeyValue> inner) : inner_(std::move(inner)) {}
  Result create(const std::string &key, const std::string &value, std::string &existing,
                uint64_t &revision) override {
    Result r = inner_->create(key, value, existing, revision);
    return lost_++ == 0 ? Result::unavailable : r;
  }
  Result get(const std::string &key, std::string &value, uint64_t &revision) override {
    return inner_->get(key, value, revision);
  }
  Result update(const std::string &key, const std::string &value, uint64_t &revision) override {
    return inner_->update(key, value, revision);
  }
  Result put(const std::string &key, const std::string &value) override { return inner_->put(key, value); }
  Result erase(const std::string &key) override { return inner_->erase(key); }

private:
  std::shared_ptr<KeyValue> inner_;
  int lost_ = 0;
};

class ExecutionStageOnce : public ::testing::Test {
protected:
  void SetUp() override {
    bus->subscribe({"all", {Subject::executions_fill, Subject::audit_event}}, [this](const Delivery &d) {
      std::lock_guard lock(published.mutex);
      published.messages.push_back(d.message);
    });
    bus->start();
  }
  void TearDown() override { bus->stop(); }

  // A stage with a fresh exec-sim on the store at `journal` (a new one: a restarted process).
  std::unique_ptr<ExecutionStage> stage_on(const std::filesystem::path &journal) {
    return stage_on(std::make_shared<FileKeyValue>(journal, false));
  }
  std::unique_ptr<ExecutionStage> stage_on(std::shared_ptr<KeyValue> store) {
    auto stage = std::make_unique<ExecutionStage>(StageContext{*bus, metrics, portfolio, clock});
    stage->set_order_store(std::move(store));
    if (!library) // loaded once: the registry refuses a second copy of the same plugin
      library = registry.add(std::filesystem::path(EXEC_SIM_SO));
    EXPECT_TRUE(library);
    auto sim = PluginInstance::create(library, {"sim", "", "", TH_KIND_EXECUTOR}, "{}", *stage);
    EXPECT_EQ(sim->start(), TH_OK);
    stage->add_executor(std::move(sim));
    Signal s;
    s.corr_id = "price_00000001";
    s.instrument = "AAPL";
    s.action = TH_SIGNAL_BUY;
    s.strength = 1;
    s.price = 100;
    s.timestamp_ns = 1736937000000000000;
    stage->handle(Message{Subject::signals_normalized, s, {}});
    return stage;
  }

  static Message intent(const std::string &corr_id) {
    OrderIntent o;
    o.corr_id = corr_id;
    o.agent_id = "momentum_v1";
    o.instrument = "AAPL";
    o.side = TH_SIDE_BUY;
    o.order_type = TH_ORDER_MARKET;
    o.quantity = 10;
    o.timestamp_ns = 1736937000000000000;
    assign_order_id(o, 1);
    return Message{Subject::decisions_order_intent, o, corr_id + ":decision:momentum_v1:1"};
  }

  double handed() { return counter(metrics, "exec_sim_orders_received_total"); }

  TempDir dir;
  PluginRegistry registry;
  std::shared_ptr<PluginLibrary> library;
  std::unique_ptr<Bus> bus = make_embedded_bus();
  Metrics metrics;
  Portfolio portfolio;
  Clock clock;
  Published published;
};

TEST_F(ExecutionStageOnce, AnOrderIsHandedOverOnceAndItsFillsComeAgainOnRedeliveryAndRestart) {
  const auto journal = dir.path / "orders.journal";
  {
    auto stage = stage_on(journal);
    stage->handle(intent("test_00000001"));
    stage->handle(intent("test_00000001")); // redelivered
    ASSERT_TRUE(bus->wait_idle(std::chrono::seconds(5)));
    EXPECT_EQ(handed(), 1);
  }
  auto restarted = stage_on(journal);
  restarted->handle(intent("test_00000001"));
  ASSERT_TRUE(bus->wait_idle(std::chrono::seconds(5)));
  EXPECT_EQ(handed(), 1) << "a restarted stage sent the order again";

  auto fills = published.of(Subject::executions_fill);
  ASSERT_EQ(fills.size(), 3u) << "the recorded fill is published with each redelivery";
  for (const auto &m : fills) {
    const auto &f = std::get<Fill>(m.payload);
    EXPECT_EQ(f.order_id, "test_00000001.momentum_v1.1");
    EXPECT_EQ(f.fill_id, "sim-test_00000001.momentum_v1.1-1");
    EXPECT_EQ(m.msg_id, "test_00000001:fill:sim-test_00000001.momentum_v1.1-1");
  }
  size_t sent = 0;
  for (const auto &m : published.of(Subject::audit_event))
    sent += std::get<AuditRecord>(m.payload).event_id == "order_sent:test_00000001.momentum_v1.1";
  EXPECT_EQ(sent, 3u); // the same id each time: the sinks keep one row
  EXPECT_EQ(restarted->orders_in_doubt(), 0u);
}

TEST_F(ExecutionStageOnce, AnOrderHandedOverWithoutAnOutcomeIsInDoubtAndNeverResent) {
  const auto journal = dir.path / "orders.journal";
  {
    // What a process killed inside the executor call leaves behind.
    FileKeyValue left(journal, false);
    ASSERT_EQ(left.put(kv_key("test_00000002.momentum_v1.1"), R"({"v":1,"state":"handing_over"})"),
              KeyValue::Result::ok);
  }
  auto stage = stage_on(journal);
  stage->handle(intent("test_00000002"));
  stage->handle(intent("test_00000003")); // another order goes through
  ASSERT_TRUE(bus->wait_idle(std::chrono::seconds(5)));
  EXPECT_EQ(handed(), 1);
  EXPECT_EQ(stage->orders_in_doubt(), 1u);
  size_t in_doubt = 0;
  for (const auto &m : published.of(Subject::audit_event)) {
    const auto &r = std::get<AuditRecord>(m.payload);
    if (r.event_type == "order_in_doubt") {
      ++in_doubt;
      EXPECT_EQ(r.event_id, "order_in_doubt:test_00000002.momentum_v1.1");
      EXPECT_EQ(r.correlation_id, "test_00000002");
    }
  }
  EXPECT_EQ(in_doubt, 1u);
  auto fills = published.of(Subject::executions_fill);
  ASSERT_EQ(fills.size(), 1u);
  EXPECT_EQ(std::get<Fill>(fills[0].payload).corr_id, "test_00000003");
}

// The split-roles NATS restart case: the hand-over record was stored but its answer lost, so the
// stage threw before calling the executor; the redelivery finds this process's own record and
// hands the order over (once) instead of calling it in doubt. Another process's record stays in
// doubt (the test above).
TEST_F(ExecutionStageOnce, AHandOverRecordStoredWithoutAnAnswerIsNotInDoubtForItsWriter) {
  auto store =
      std::make_shared<LostFirstAnswer>(std::make_shared<FileKeyValue>(dir.path / "orders.journal", false));
  auto stage = stage_on(store);
  EXPECT_THROW(stage->handle(intent("test_00000004")), std::runtime_error);
  EXPECT_EQ(handed(), 0);
  stage->handle(intent("test_00000004")); // redelivered
  stage->handle(intent("test_00000004")); // and again: handed over by now
  ASSERT_TRUE(bus->wait_idle(std::chrono::seconds(5)));
  EXPECT_EQ(handed(), 1);
  EXPECT_EQ(stage->orders_in_doubt(), 0u);
  auto fills = published.of(Subject::executions_fill);
  ASSERT_EQ(fills.size(), 2u); // the fill, then its recorded copy (one fill_id)
  EXPECT_EQ(std::get<Fill>(fills[0].payload).fill_id, std::get<Fill>(fills[1].payload).fill_id);
}

} // namespace
} // namespace th
