#include "broker.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <stdexcept>

namespace fix_broker {

using tradehost::str;
using tradehost::view;

namespace {

constexpr std::string_view metric_fills = "fix_broker_fills_total";
constexpr std::string_view metric_duplicates = "fix_broker_duplicate_executions_total";
constexpr std::string_view metric_orders = "fix_broker_orders_sent_total";
constexpr std::string_view metric_rejects = "fix_broker_orders_rejected_total";
constexpr std::string_view metric_unknown = "fix_broker_unknown_reports_total";

char fix_side(int32_t side) {
  return side == TH_SIDE_SELL ? '2' : '1';
}

// OrdType 40 / TimeInForce 59; 0 when the intent cannot be expressed in FIX 4.4 here.
char fix_ord_type(int32_t type) {
  switch (type) {
  case TH_ORDER_MARKET:
    return '1';
  case TH_ORDER_LIMIT:
    return '2';
  case TH_ORDER_STOP:
    return '3';
  case TH_ORDER_STOP_LIMIT:
    return '4';
  default:
    return 0;
  }
}
char fix_tif(int32_t tif) {
  switch (tif) {
  case 0:
  case TH_TIF_DAY:
    return '0';
  case TH_TIF_GTC:
    return '1';
  case TH_TIF_IOC:
    return '3';
  case TH_TIF_FOK:
    return '4';
  default:
    return 0; // GTD needs ExpireTime 126, which the intent does not carry
  }
}

bool terminal(char ord_status) {
  return ord_status == '2' || ord_status == '4' || ord_status == '8' || ord_status == 'C';
}

} // namespace

Broker::Broker(const th_host_api *api, th_host *host, std::string_view params_json)
    : PluginBase(api, host), params_(parse_params(params_json)),
      journal_(params_.state_dir + "/journal.jsonl", params_.fsync) {
  session_ = make_session(params_.session, *this);
  log(TH_LOG_INFO, "fix-broker: session " + params_.session.sender_comp_id + "->" +
                       params_.session.target_comp_id + " to " + params_.session.host + ":" +
                       std::to_string(params_.session.port) + ", state in " + params_.state_dir + " (" +
                       std::to_string(journal_.exec_count()) + " executions, " +
                       std::to_string(journal_.open_orders().size()) + " open orders in the journal)");
}

Broker::~Broker() {
  if (session_)
    session_->stop();
  session_.reset(); // joins QuickFIX's threads before the journal goes
}

void Broker::start() {
  session_->start();
  std::unique_lock lock(logon_mutex_);
  auto timeout = std::chrono::duration<double>(params_.logon_timeout_s);
  if (!logon_cv_.wait_for(lock, timeout, [&] { return logged_on_; }))
    log(TH_LOG_WARN, "fix-broker: not logged on after " + std::to_string(params_.logon_timeout_s) +
                         " s; reconnecting every " + std::to_string(params_.session.reconnect_interval_s) +
                         " s, intents are rejected (venue_unavailable) until the logon");
}

void Broker::stop() {
  session_->stop();
}

void Broker::on_order_intent(const th_order_intent &in) {
  OrderRecord o;
  if (TH_HAS_FIELD(&in, th_order_intent, order_id) && in.order_id.len > 0)
    o.order_id.assign(view(in.order_id));
  else // a 1.0 host assigns no order id
    o.order_id.assign(view(in.corr_id)).append(".").append(view(in.agent_id));
  o.corr_id.assign(view(in.corr_id));
  o.parent_corr_id.assign(view(in.parent_corr_id));
  o.agent_id.assign(view(in.agent_id));
  o.instrument.assign(view(in.instrument));
  o.side = in.side;
  o.quantity = in.quantity;

  NewOrder nos;
  nos.cl_ord_id = o.order_id;
  nos.symbol = o.instrument;
  nos.side = fix_side(in.side);
  nos.ord_type = fix_ord_type(in.order_type);
  nos.time_in_force = fix_tif(in.time_in_force);
  nos.quantity = in.quantity;
  nos.has_price = (in.flags & TH_INTENT_HAS_PRICE_LIMIT) &&
                  (in.order_type == TH_ORDER_LIMIT || in.order_type == TH_ORDER_STOP_LIMIT);
  nos.price = in.price_limit;
  nos.has_stop = (in.flags & TH_INTENT_HAS_STOP_PRICE) &&
                 (in.order_type == TH_ORDER_STOP || in.order_type == TH_ORDER_STOP_LIMIT);
  nos.stop_px = in.stop_price;
  nos.transact_time_ns = now_ns();

  std::string error;
  if (!nos.ord_type)
    error = "FIX-002: order type " + std::to_string(in.order_type) + " has no FIX 4.4 mapping";
  else if (!nos.time_in_force)
    error = "FIX-002: time in force " + std::to_string(in.time_in_force) + " is not supported (GTD)";
  else if ((in.order_type == TH_ORDER_LIMIT || in.order_type == TH_ORDER_STOP_LIMIT) && !nos.has_price)
    error = "FIX-002: a limit order needs price_limit";
  else if ((in.order_type == TH_ORDER_STOP || in.order_type == TH_ORDER_STOP_LIMIT) && !nos.has_stop)
    error = "FIX-002: a stop order needs stop_price";
  {
    std::lock_guard lock(mutex_);
    if (journal_.find(o.order_id)) {
      // The host hands an order_id over once; a second one would be a second order at the venue.
      log(TH_LOG_WARN, "fix-broker: order " + o.order_id + " was already sent; ignored", o.corr_id);
      return;
    }
    journal_.record_order(o);
  }
  if (error.empty() && !session_->send(nos, &error))
    error = "FIX-001: " + error;
  if (error.empty()) {
    count(metric_orders);
    return;
  }
  std::lock_guard lock(mutex_);
  count(metric_rejects);
  emit_fill(o, TH_FILL_REJECTED, 0, o.quantity, 0, 0, now_ns(), "local", error, {});
  journal_.record_closed(o.order_id);
}

void Broker::cancel_all() {
  std::vector<CancelRequest> cancels;
  {
    std::lock_guard lock(mutex_);
    for (const OrderRecord &o : journal_.open_orders()) {
      CancelRequest c;
      // Deterministic: the order's id and the number of ids it has had.
      for (int n = 1;; ++n) {
        c.cl_ord_id = o.order_id + "-cxl-" + std::to_string(n);
        if (!journal_.find(c.cl_ord_id))
          break;
      }
      c.orig_cl_ord_id = o.order_id;
      c.symbol = o.instrument;
      c.side = fix_side(o.side);
      c.quantity = o.quantity;
      c.transact_time_ns = now_ns();
      journal_.record_alias(c.cl_ord_id, o.order_id);
      cancels.push_back(c);
    }
  }
  std::string failures;
  for (const CancelRequest &c : cancels) {
    std::string error;
    if (!session_->send(c, &error))
      failures += " " + c.orig_cl_ord_id + " (" + error + ")";
  }
  log(TH_LOG_INFO, "fix-broker: cancel_all sent " + std::to_string(cancels.size()) + " OrderCancelRequests");
  if (!failures.empty())
    throw std::runtime_error("fix-broker: cancels not sent:" + failures);
}

void Broker::on_logon() {
  {
    std::lock_guard lock(logon_mutex_);
    logged_on_ = true;
  }
  logon_cv_.notify_all();
  count("fix_broker_logons_total");
  api()->metric(host(), TH_METRIC_GAUGE, str("fix_broker_logged_on"), nullptr, 0, 1);
  log(TH_LOG_INFO, "fix-broker: logged on to " + params_.session.target_comp_id);
  request_open_order_status();
}

void Broker::on_logout() {
  {
    std::lock_guard lock(logon_mutex_);
    logged_on_ = false;
  }
  api()->metric(host(), TH_METRIC_GAUGE, str("fix_broker_logged_on"), nullptr, 0, 0);
  log(TH_LOG_WARN, "fix-broker: logged out of " + params_.session.target_comp_id);
}

// Reconciliation at logon: the venue answers 35=H with an ExecType I report per order; fills
// the session missed arrive by QuickFIX's resend, and a status that still disagrees is logged.
void Broker::request_open_order_status() {
  std::vector<OrderRecord> open;
  {
    std::lock_guard lock(mutex_);
    open = journal_.open_orders();
  }
  for (const OrderRecord &o : open) {
    std::string error;
    if (!session_->request_status(o.order_id, o.instrument, fix_side(o.side), &error))
      log(TH_LOG_WARN, "fix-broker: status request for " + o.order_id + " not sent: " + error, o.corr_id);
  }
}

void Broker::on_session_event(const std::string &text) {
  log(TH_LOG_DEBUG, "fix-broker: quickfix: " + text);
}

void Broker::on_report(const Report &r) {
  std::lock_guard lock(mutex_);
  OrderRecord *order = journal_.find(r.cl_ord_id);
  if (!order && !r.orig_cl_ord_id.empty())
    order = journal_.find(r.orig_cl_ord_id);
  if (!order) {
    count(metric_unknown);
    log(TH_LOG_WARN,
        "fix-broker: report for unknown ClOrdID '" + r.cl_ord_id + "' (ExecID '" + r.exec_id + "') ignored");
    return;
  }
  if (r.cancel_reject) {
    log(TH_LOG_WARN,
        "fix-broker: " + std::string(r.cxl_rej_response_to == 2 ? "replace" : "cancel") + " of " +
            order->order_id + " rejected by the venue: " + r.text,
        order->corr_id);
    return;
  }
  if (r.exec_type == 'I') {
    apply_status(*order, r);
    return;
  }
  if (r.exec_id.empty() || journal_.seen(r.exec_id)) {
    count(metric_duplicates);
    log(TH_LOG_INFO,
        "fix-broker: execution " + r.exec_id + " of " + order->order_id + " already applied" +
            (r.poss_dup ? " (PossDup resend)" : "") + "; ignored",
        order->corr_id);
    return;
  }
  apply_execution(*order, r);
  // After the fill: a crash in between re-emits the same fill_id, which the host's portfolio
  // and audit trail de-duplicate; recording first could lose the fill instead.
  journal_.record_exec(r.exec_id);
  if (terminal(r.ord_status))
    journal_.record_closed(order->order_id);
}

void Broker::apply_execution(OrderRecord &o, const Report &r) {
  const int64_t ts = r.transact_time_ns ? r.transact_time_ns : now_ns();
  const double requested = r.order_qty > 0 ? r.order_qty : o.quantity;
  switch (r.exec_type) {
  case 'F': { // Trade
    double commission = 0;
    if (r.has_commission) {
      if (r.comm_type == '1')
        commission = r.commission * r.last_qty;
      else if (r.comm_type == '2')
        commission = r.commission / 100 * r.last_qty * r.last_px;
      else
        commission = r.commission;
    }
    const bool complete = r.ord_status == '2' || r.leaves_qty <= 0;
    emit_fill(o, complete ? TH_FILL_COMPLETE : TH_FILL_PARTIAL, r.last_qty, requested, r.last_px, commission,
              ts, r.exec_id, {}, r.venue_order_id);
    count(metric_fills);
    return;
  }
  case '8': // Rejected
    count(metric_rejects);
    emit_fill(o, TH_FILL_REJECTED, 0, requested, 0, 0, ts, r.exec_id, "FIX-REJECT: " + r.text,
              r.venue_order_id);
    return;
  case '4': // Canceled (also the unfilled rest of an IOC/FOK)
  case 'C': // Expired
    emit_fill(o, TH_FILL_CANCELLED, 0, requested, 0, 0, ts, r.exec_id,
              std::string(r.exec_type == 'C' ? "expired" : "cancelled") +
                  (r.text.empty() ? "" : ": " + r.text),
              r.venue_order_id);
    return;
  default: // New, Replaced, Pending*, Restated, Triggered: states, no fill
    log(TH_LOG_INFO,
        "fix-broker: order " + o.order_id + " ExecType " + std::string(1, r.exec_type) + " OrdStatus " +
            std::string(1, r.ord_status) + (r.text.empty() ? "" : " (" + r.text + ")"),
        o.corr_id);
  }
}

void Broker::apply_status(OrderRecord &o, const Report &r) {
  if (r.ord_status == '8' && r.text.find("unknown") != std::string::npos) {
    log(TH_LOG_WARN, "fix-broker: reconcile: the venue does not know open order " + o.order_id, o.corr_id);
    return;
  }
  if (terminal(r.ord_status) && o.open)
    log(TH_LOG_WARN,
        "fix-broker: reconcile: order " + o.order_id + " is " + std::string(1, r.ord_status) +
            " at the venue (cum " + std::to_string(r.cum_qty) + ") but open here; its executions are " +
            "expected by resend",
        o.corr_id);
  else
    log(TH_LOG_INFO,
        "fix-broker: reconcile: order " + o.order_id + " OrdStatus " + std::string(1, r.ord_status) +
            " cum " + std::to_string(r.cum_qty) + " leaves " + std::to_string(r.leaves_qty),
        o.corr_id);
}

void Broker::emit_fill(const OrderRecord &o, int32_t status, double quantity, double requested, double price,
                       double commission, int64_t timestamp_ns, std::string_view fill_key,
                       std::string_view reason, std::string_view venue_order_id) {
  // Deterministic and unique per agent: the order id (which names the agent) and the ExecID.
  std::string fill_id = "fix-" + o.order_id + "-" + std::string(fill_key);
  std::string extra = nlohmann::json{{"exec_id", fill_key}, {"venue_order_id", venue_order_id}}.dump();
  th_fill f{};
  f.struct_size = sizeof f;
  f.corr_id = str(o.corr_id);
  f.parent_corr_id = str(o.parent_corr_id);
  f.fill_id = str(fill_id);
  f.order_id = str(o.order_id);
  f.agent_id = str(o.agent_id);
  f.instrument = str(o.instrument);
  f.side = o.side;
  f.fill_status = status;
  f.quantity_filled = quantity;
  f.quantity_requested = requested;
  f.avg_fill_price = price;
  f.fill_timestamp_ns = timestamp_ns;
  f.rejection_reason = str(reason);
  f.execution_venue = str(params_.venue);
  f.commission = commission;
  f.extra_json = str(extra);
  if (th_status st = emit(f); st != TH_OK)
    log(TH_LOG_WARN, "fix-broker: the host refused fill " + fill_id + " (status " + std::to_string(st) + ")",
        o.corr_id);
}

} // namespace fix_broker
