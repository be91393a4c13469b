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
constexpr std::string_view metric_refused = "fix_broker_fills_refused_total";

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

#ifdef FIX_BROKER_LIFECYCLE
// OrdStatus 39 -> TH_ORDER_STATUS_*; 0 for values with no counterpart.
int32_t status_of(char ord_status) {
  switch (ord_status) {
  case '0':
    return TH_ORDER_STATUS_ACCEPTED;
  case '1':
    return TH_ORDER_STATUS_PARTIALLY_FILLED;
  case '2':
    return TH_ORDER_STATUS_FILLED;
  case '4':
    return TH_ORDER_STATUS_CANCELLED;
  case '5':
    return TH_ORDER_STATUS_REPLACED;
  case '6':
    return TH_ORDER_STATUS_PENDING_CANCEL;
  case '8':
    return TH_ORDER_STATUS_REJECTED;
  case 'A':
    return TH_ORDER_STATUS_PENDING_NEW;
  case 'C':
    return TH_ORDER_STATUS_EXPIRED;
  case 'E':
    return TH_ORDER_STATUS_PENDING_REPLACE;
  default:
    return 0;
  }
}
// ExecType 150 (what happened) first, OrdStatus 39 (where the order is) otherwise.
int32_t status_of(const Report &r) {
  switch (r.exec_type) {
  case '0':
    return TH_ORDER_STATUS_ACCEPTED;
  case '5':
    return TH_ORDER_STATUS_REPLACED;
  case 'C':
    return TH_ORDER_STATUS_EXPIRED;
  case 'L':
    return TH_ORDER_STATUS_TRIGGERED;
  default:
    return status_of(r.ord_status);
  }
}
#endif

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
  if (!logon_cv_.wait_for(lock, timeout, [&] { return logged_on_; })) {
    report_venue(false, "not logged on yet");
    log(TH_LOG_WARN, "fix-broker: not logged on after " + std::to_string(params_.logon_timeout_s) +
                         " s; reconnecting every " + std::to_string(params_.session.reconnect_interval_s) +
                         " s, intents are rejected (venue_unavailable) until the logon");
  }
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
  o.ord_type = nos.ord_type ? nos.ord_type : '1';
  o.time_in_force = nos.time_in_force ? nos.time_in_force : '0';
  o.price = nos.has_price ? nos.price : 0;
  o.stop_px = nos.has_stop ? nos.stop_px : 0;

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
#ifdef FIX_BROKER_LIFECYCLE
  publish_status(o, TH_ORDER_STATUS_REJECTED, error, 0);
#endif
  emit_fill(o, TH_FILL_REJECTED, 0, o.quantity, 0, 0, now_ns(), "local", error, {});
  journal_.record_closed(o.order_id);
}

CancelRequest Broker::cancel_for(OrderRecord &o, std::string cl_ord_id) {
  CancelRequest c;
  if (cl_ord_id.empty()) // deterministic: the order's id and the number of ids it has had
    for (int n = 1;; ++n) {
      cl_ord_id = o.order_id + "-cxl-" + std::to_string(n);
      if (!journal_.find(cl_ord_id))
        break;
    }
  c.cl_ord_id = std::move(cl_ord_id);
  c.orig_cl_ord_id = o.current_cl_ord_id.empty() ? o.order_id : o.current_cl_ord_id;
  c.symbol = o.instrument;
  c.side = fix_side(o.side);
  c.quantity = o.quantity;
  c.transact_time_ns = now_ns();
  journal_.record_alias(c.cl_ord_id, o.order_id);
  return c;
}

void Broker::cancel_all() {
  std::vector<CancelRequest> cancels;
  std::vector<OrderRecord> orders;
  {
    std::lock_guard lock(mutex_);
    for (const OrderRecord &open : journal_.open_orders()) {
      OrderRecord *o = journal_.find(open.order_id);
      cancels.push_back(cancel_for(*o, {}));
      orders.push_back(*o);
    }
  }
  std::string failures;
  for (size_t i = 0; i < cancels.size(); ++i) {
    std::string error;
    if (!session_->send(cancels[i], &error))
      failures += " " + cancels[i].orig_cl_ord_id + " (" + error + ")";
#ifdef FIX_BROKER_LIFECYCLE
    else
      publish_status(orders[i], TH_ORDER_STATUS_PENDING_CANCEL, "trading_halted", 0);
#endif
  }
  log(TH_LOG_INFO, "fix-broker: cancel_all sent " + std::to_string(cancels.size()) + " OrderCancelRequests");
  if (!failures.empty())
    throw std::runtime_error("fix-broker: cancels not sent:" + failures);
}

#ifdef FIX_BROKER_LIFECYCLE
void Broker::on_cancel(const th_order_cancel &in) {
  CancelRequest c;
  OrderRecord order;
  {
    std::lock_guard lock(mutex_);
    OrderRecord *o = journal_.find(std::string(view(in.order_id)));
    if (!o)
      throw std::invalid_argument("fix-broker: cancel of unknown order " + std::string(view(in.order_id)));
    if (!o->open) {
      publish_status(*o, o->status ? o->status : TH_ORDER_STATUS_FILLED, "cancel: the order is closed", 0);
      return;
    }
    c = cancel_for(*o, std::string(view(in.request_id)));
    order = *o;
  }
  std::string error;
  if (!session_->send(c, &error)) {
    publish_status(order, order.status ? order.status : TH_ORDER_STATUS_ACCEPTED, "cancel not sent: " + error,
                   0);
    throw std::runtime_error("fix-broker: cancel of " + order.order_id + " not sent: " + error);
  }
  publish_status(order, TH_ORDER_STATUS_PENDING_CANCEL, view(in.reason), 0);
}

void Broker::on_replace(const th_order_replace &in) {
  ReplaceRequest r;
  OrderRecord order;
  {
    std::lock_guard lock(mutex_);
    OrderRecord *o = journal_.find(std::string(view(in.order_id)));
    if (!o)
      throw std::invalid_argument("fix-broker: replace of unknown order " + std::string(view(in.order_id)));
    if (!o->open) {
      publish_status(*o, o->status ? o->status : TH_ORDER_STATUS_FILLED, "replace: the order is closed", 0);
      return;
    }
    NewOrder &n = r.order;
    n.cl_ord_id = std::string(view(in.request_id));
    n.symbol = o->instrument;
    n.side = fix_side(o->side);
    n.ord_type = o->ord_type;
    n.time_in_force = o->time_in_force;
    n.quantity = (in.flags & TH_REPLACE_HAS_QUANTITY) ? in.quantity : o->quantity;
    n.has_price = o->ord_type == '2' || o->ord_type == '4';
    n.price = (in.flags & TH_REPLACE_HAS_PRICE_LIMIT) ? in.price_limit : o->price;
    n.has_stop = o->ord_type == '3' || o->ord_type == '4';
    n.stop_px = (in.flags & TH_REPLACE_HAS_STOP_PRICE) ? in.stop_price : o->stop_px;
    n.transact_time_ns = now_ns();
    r.orig_cl_ord_id = o->current_cl_ord_id.empty() ? o->order_id : o->current_cl_ord_id;
    journal_.record_alias(n.cl_ord_id, o->order_id);
    pending_replaces_[n.cl_ord_id] = n;
    order = *o;
  }
  std::string error;
  if (!session_->send(r, &error)) {
    publish_status(order, order.status ? order.status : TH_ORDER_STATUS_ACCEPTED,
                   "replace not sent: " + error, 0);
    throw std::runtime_error("fix-broker: replace of " + order.order_id + " not sent: " + error);
  }
  publish_status(order, TH_ORDER_STATUS_PENDING_REPLACE, {}, 0);
}

// The host's believed-open orders arrive here; the venue's view comes from an
// OrderMassStatusRequest (35=AF) at the first logon, reported as one snapshot.
void Broker::reconcile_at_start(const th_order_status *, size_t count) {
  {
    std::lock_guard lock(mutex_);
    reconcile_id_ = "reconcile-" + std::to_string(now_ns());
    reconcile_sent_ = false;
    reconcile_orders_.clear();
  }
  log(TH_LOG_INFO, "fix-broker: reconcile at start: the host believes " + std::to_string(count) +
                       " orders open; asking the venue (OrderMassStatusRequest)");
  send_reconcile_request();
}

void Broker::send_reconcile_request() {
  std::string id;
  {
    std::lock_guard lock(mutex_);
    if (reconcile_id_.empty() || reconcile_sent_ || !session_->logged_on())
      return; // not asked, already asked, or at the next logon
    reconcile_sent_ = true;
    id = reconcile_id_;
  }
  std::string error;
  if (!session_->request_mass_status(id, &error)) {
    std::lock_guard lock(mutex_);
    reconcile_sent_ = false;
    log(TH_LOG_WARN, "fix-broker: OrderMassStatusRequest not sent (" + error + "); again at the next logon");
  }
}

// Under mutex_: the whole answer is in.
void Broker::finish_reconcile() {
  std::vector<th_order_status> orders;
  for (const VenueOrder &v : reconcile_orders_) {
    th_order_status s{};
    s.struct_size = sizeof s;
    s.order_id = str(v.order_id);
    s.venue_order_id = str(v.venue_order_id);
    s.corr_id = str(v.corr_id);
    s.agent_id = str(v.agent_id);
    s.instrument = str(v.instrument);
    s.status = v.status;
    s.side = v.side;
    s.venue = str(params_.venue);
    s.leaves_qty = v.leaves;
    s.cum_qty = v.cum;
    s.avg_px = v.avg;
    if (v.cum > 0)
      s.flags |= TH_ORDER_STATUS_HAS_AVG_PX;
    orders.push_back(s);
  }
  th_venue_snapshot snapshot{};
  snapshot.struct_size = sizeof snapshot;
  snapshot.venue = str(params_.venue);
  snapshot.orders = orders.data();
  snapshot.order_count = orders.size();
  if (th_status st = report(snapshot); st != TH_OK)
    log(TH_LOG_WARN, "fix-broker: the host refused the venue snapshot (status " + std::to_string(st) + ")");
  log(TH_LOG_INFO,
      "fix-broker: reconcile: the venue has " + std::to_string(orders.size()) + " working orders");
  reconcile_id_.clear();
  reconcile_orders_.clear();
}
#endif

void Broker::on_logon() {
  {
    std::lock_guard lock(logon_mutex_);
    logged_on_ = true;
  }
  logon_cv_.notify_all();
  count("fix_broker_logons_total");
  api()->metric(host(), TH_METRIC_GAUGE, str("fix_broker_logged_on"), nullptr, 0, 1);
  log(TH_LOG_INFO, "fix-broker: logged on to " + params_.session.target_comp_id);
  report_venue(true, "logged on");
  request_open_order_status();
#ifdef FIX_BROKER_LIFECYCLE
  send_reconcile_request();
#endif
}

void Broker::report_venue(bool connected, std::string_view reason) {
#ifdef FIX_BROKER_LIFECYCLE
  report_venue_state(connected ? TH_VENUE_CONNECTED : TH_VENUE_DISCONNECTED, params_.venue, reason);
#else
  (void)connected, (void)reason;
#endif
}

void Broker::on_logout() {
  {
    std::lock_guard lock(logon_mutex_);
    logged_on_ = false;
  }
  api()->metric(host(), TH_METRIC_GAUGE, str("fix_broker_logged_on"), nullptr, 0, 0);
  log(TH_LOG_WARN, "fix-broker: logged out of " + params_.session.target_comp_id);
  report_venue(false, "logged out");
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
#ifdef FIX_BROKER_LIFECYCLE
  if (r.exec_type == 'I' && !r.mass_status_req_id.empty() && r.mass_status_req_id == reconcile_id_) {
    if (r.tot_num_reports != 0) {
      VenueOrder v;
      const OrderRecord *known = journal_.find(r.cl_ord_id);
      v.order_id = known ? known->order_id : r.cl_ord_id;
      v.corr_id = known ? known->corr_id : "";
      v.agent_id = known ? known->agent_id : "";
      v.instrument = r.symbol;
      v.venue_order_id = r.venue_order_id;
      v.status = status_of(r.ord_status);
      v.side = r.side == '2' ? TH_SIDE_SELL : TH_SIDE_BUY;
      v.leaves = r.leaves_qty, v.cum = r.cum_qty, v.avg = r.avg_px;
      reconcile_orders_.push_back(v);
    }
    if (r.last_rpt_requested || r.tot_num_reports == 0 ||
        (r.tot_num_reports > 0 && reconcile_orders_.size() >= static_cast<size_t>(r.tot_num_reports)))
      finish_reconcile();
    return;
  }
#endif
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
  if (!apply_execution(*order, r)) {
    // Not recorded as seen: a resend or the venue's replay at the next logon brings it again,
    // rather than the fill being marked done while the host never took it.
    count(metric_refused);
    return;
  }
  order->cum_qty = r.cum_qty, order->leaves_qty = r.leaves_qty, order->avg_px = r.avg_px;
  if (!r.venue_order_id.empty())
    order->venue_order_id = r.venue_order_id;
  if (r.exec_type == '5') { // the replace took effect: its ClOrdID and terms are the order's now
    journal_.record_current(r.cl_ord_id, order->order_id);
    if (auto it = pending_replaces_.find(r.cl_ord_id); it != pending_replaces_.end()) {
      order->quantity = it->second.quantity, order->price = it->second.price;
      order->stop_px = it->second.stop_px;
      pending_replaces_.erase(it);
    }
  }
#ifdef FIX_BROKER_LIFECYCLE
  if (int32_t status = status_of(r)) {
    order->status = status;
    publish_status(*order, status,
                   r.exec_type == '8' || r.exec_type == '4' || r.exec_type == 'C' ? r.text : "",
                   r.transact_time_ns);
  }
#endif
  // After the fill: a crash in between re-emits the same fill_id, which the host's portfolio
  // and audit trail de-duplicate; recording first could lose the fill instead.
  journal_.record_exec(r.exec_id);
  if (terminal(r.ord_status))
    journal_.record_closed(order->order_id);
}

bool Broker::apply_execution(OrderRecord &o, const Report &r) {
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
    if (!emit_fill(o, complete ? TH_FILL_COMPLETE : TH_FILL_PARTIAL, r.last_qty, requested, r.last_px,
                   commission, ts, r.exec_id, {}, r.venue_order_id))
      return false;
    count(metric_fills);
    return true;
  }
  case '8': // Rejected
    count(metric_rejects);
    return emit_fill(o, TH_FILL_REJECTED, 0, requested, 0, 0, ts, r.exec_id, "FIX-REJECT: " + r.text,
                     r.venue_order_id);
  case '4': // Canceled (also the unfilled rest of an IOC/FOK)
  case 'C': // Expired
    return emit_fill(o, TH_FILL_CANCELLED, 0, requested, 0, 0, ts, r.exec_id,
                     std::string(r.exec_type == 'C' ? "expired" : "cancelled") +
                         (r.text.empty() ? "" : ": " + r.text),
                     r.venue_order_id);
  default: // New, Replaced, Pending*, Restated, Triggered: states, no fill
    log(TH_LOG_INFO,
        "fix-broker: order " + o.order_id + " ExecType " + std::string(1, r.exec_type) + " OrdStatus " +
            std::string(1, r.ord_status) + (r.text.empty() ? "" : " (" + r.text + ")"),
        o.corr_id);
  }
  return true;
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

bool Broker::emit_fill(const OrderRecord &o, int32_t status, double quantity, double requested, double price,
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
  if (th_status st = emit(f); st != TH_OK) {
    log(TH_LOG_WARN, "fix-broker: the host refused fill " + fill_id + " (status " + std::to_string(st) + ")",
        o.corr_id);
    return false;
  }
  return true;
}

void Broker::publish_status(const OrderRecord &o, int32_t status, std::string_view reason,
                            int64_t timestamp_ns) {
#ifdef FIX_BROKER_LIFECYCLE
  th_order_status s{};
  s.struct_size = sizeof s;
  s.corr_id = str(o.corr_id);
  s.order_id = str(o.order_id);
  s.venue_order_id = str(o.venue_order_id);
  s.agent_id = str(o.agent_id);
  s.instrument = str(o.instrument);
  s.status = status;
  s.side = o.side;
  s.reason = str(reason);
  s.venue = str(params_.venue);
  s.timestamp_ns = timestamp_ns;
  s.leaves_qty = o.leaves_qty;
  s.cum_qty = o.cum_qty;
  s.avg_px = o.avg_px;
  if (o.cum_qty > 0)
    s.flags |= TH_ORDER_STATUS_HAS_AVG_PX;
  if (th_status st = emit(s); st != TH_OK && st != TH_UNSUPPORTED)
    log(TH_LOG_WARN,
        "fix-broker: the host refused a status of " + o.order_id + " (status " + std::to_string(st) + ")",
        o.corr_id);
#else
  (void)o, (void)status, (void)reason, (void)timestamp_ns;
#endif
}

} // namespace fix_broker
