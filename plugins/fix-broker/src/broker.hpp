// The fix-broker executor: order intents out as NewOrderSingle, ExecutionReports back as fills,
// each ExecID at most once (journal.hpp), and, with an ABI 1.2 header, the order lifecycle:
// statuses, cancels (35=F), replaces (35=G), venue state and reconciliation at start (35=AF).
// The FIX session itself lives behind session.hpp.
#pragma once

#include "journal.hpp"
#include "params.hpp"
#include "session.hpp"

#include <tradehost/plugin.hpp>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#if defined(TH_ORDER_STATUS_ACCEPTED) // the ABI 1.2 header: the order lifecycle
#define FIX_BROKER_LIFECYCLE 1
#endif

namespace fix_broker {

class Broker : public tradehost::PluginBase, private SessionEvents {
public:
  Broker(const th_host_api *api, th_host *host, std::string_view params_json);
  ~Broker() override;

  void start();
  void stop();
  void on_order_intent(const th_order_intent &intent);
  void cancel_all();
#ifdef FIX_BROKER_LIFECYCLE
  void on_cancel(const th_order_cancel &cancel);
  void on_replace(const th_order_replace &replace);
  void reconcile_at_start(const th_order_status *open_orders, size_t count);
#endif

private:
  void on_logon() override;
  void on_logout() override;
  void on_report(const Report &report) override;
  void on_session_event(const std::string &text) override;

  // Under mutex_: an ExecutionReport that changes the order's state (not an order-status answer).
  // False when the host refused the fill it carried.
  bool apply_execution(OrderRecord &order, const Report &report);
  // The venue's answer to a status request (ExecType I): compared with what the journal says.
  void apply_status(OrderRecord &order, const Report &report);
  bool emit_fill(const OrderRecord &order, int32_t status, double quantity, double requested, double price,
                 double commission, int64_t timestamp_ns, std::string_view fill_key, std::string_view reason,
                 std::string_view venue_order_id);
  // ABI 1.2: the order's status to the host (no-op with an older header or host).
  void publish_status(const OrderRecord &order, int32_t status, std::string_view reason,
                      int64_t timestamp_ns);
  void report_venue(bool connected, std::string_view reason);
  void request_open_order_status();
  CancelRequest cancel_for(OrderRecord &order, std::string cl_ord_id);

  Params params_;
  Journal journal_;
  std::mutex mutex_; // journal_, pending_replaces_, the reconcile state and the fills emitted from them
  std::map<std::string, NewOrder> pending_replaces_; // by the replace's ClOrdID: the order's new terms
#ifdef FIX_BROKER_LIFECYCLE
  struct VenueOrder { // one working order in a mass status answer
    std::string order_id, venue_order_id, corr_id, agent_id, instrument;
    int32_t status = 0, side = 0;
    double leaves = 0, cum = 0, avg = 0;
  };
  std::string reconcile_id_; // MassStatusReqID 584 of the reconciliation at start; empty = none
  bool reconcile_sent_ = false;
  std::vector<VenueOrder> reconcile_orders_;
  void send_reconcile_request();
  void finish_reconcile();
#endif
  std::mutex logon_mutex_;
  std::condition_variable logon_cv_;
  bool logged_on_ = false;
  std::unique_ptr<Session> session_; // after everything its callbacks touch
};

} // namespace fix_broker
