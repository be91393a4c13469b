// The fix-broker executor: order intents out as NewOrderSingle, ExecutionReports back as fills,
// each ExecID at most once (journal.hpp). The FIX session itself lives behind session.hpp.
#pragma once

#include "journal.hpp"
#include "params.hpp"
#include "session.hpp"

#include <tradehost/plugin.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace fix_broker {

class Broker : public tradehost::PluginBase, private SessionEvents {
public:
  Broker(const th_host_api *api, th_host *host, std::string_view params_json);
  ~Broker() override;

  void start();
  void stop();
  void on_order_intent(const th_order_intent &intent);
  void cancel_all();

private:
  void on_logon() override;
  void on_logout() override;
  void on_report(const Report &report) override;
  void on_session_event(const std::string &text) override;

  // Under mutex_: an ExecutionReport that changes the order's state (not an order-status answer).
  void apply_execution(OrderRecord &order, const Report &report);
  // The venue's answer to a status request (ExecType I): compared with what the journal says.
  void apply_status(OrderRecord &order, const Report &report);
  void emit_fill(const OrderRecord &order, int32_t status, double quantity, double requested, double price,
                 double commission, int64_t timestamp_ns, std::string_view fill_key, std::string_view reason,
                 std::string_view venue_order_id);
  void request_open_order_status();

  Params params_;
  Journal journal_;
  std::mutex mutex_; // journal_ and the fills emitted from it
  std::mutex logon_mutex_;
  std::condition_variable logon_cv_;
  bool logged_on_ = false;
  std::unique_ptr<Session> session_; // after everything its callbacks touch
};

} // namespace fix_broker
