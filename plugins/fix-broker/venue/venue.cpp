#include "venue.hpp"

#include "../src/fix_time.hpp"

#include <quickfix/Session.h>
#include <quickfix/fix44/ExecutionReport.h>
#include <quickfix/fix44/OrderCancelReject.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace fix_venue {
namespace {

std::string field(const FIX::FieldMap &m, int tag) {
  return m.isSetField(tag) ? m.getField(tag) : std::string();
}
double number_field(const FIX::FieldMap &m, int tag) {
  try {
    return m.isSetField(tag) ? std::stod(m.getField(tag)) : 0;
  } catch (...) {
    return 0;
  }
}
char char_field(const FIX::FieldMap &m, int tag, char fallback) {
  std::string v = field(m, tag);
  return v.empty() ? fallback : v[0];
}
std::string number(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%.10g", v);
  return text;
}
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
// Quantities are split on a 1e-6 grid so the pieces sum exactly to the whole.
double round6(double v) {
  return std::round(v * 1e6) / 1e6;
}

} // namespace

Venue::Venue(const Options &options) : options_(options) {
  run_id_ = std::to_string(now_ns() / 1000000);
  last_ = options.mids;
}

void Venue::event(const std::string &name, nlohmann::json fields) {
  static std::mutex out;
  fields["event"] = name;
  fields["ts"] = fix_broker::fix_timestamp(now_ns());
  std::lock_guard<std::mutex> lock(out);
  std::cout << fields.dump() << std::endl;
}

void Venue::onLogon(const FIX::SessionID &id) {
  {
    std::lock_guard<std::mutex> lock(session_mutex_);
    session_ = id;
    have_session_ = true;
  }
  event("logon", {{"session", id.toString()}});
  if (options_.replay_fills_on_logon)
    scheduler_.after(0, [this] { replay_fills(); });
}

void Venue::onLogout(const FIX::SessionID &id) {
  event("logout", {{"session", id.toString()}});
}

void Venue::fromAdmin(const FIX::Message &m,
                      const FIX::SessionID &) throw(FIX::FieldNotFound, FIX::IncorrectDataFormat,
                                                    FIX::IncorrectTagValue, FIX::RejectLogon) {
  if (field(m.getHeader(), FIX::FIELD::MsgType) != "A")
    return;
  const bool user_ok = options_.username.empty() || field(m, FIX::FIELD::Username) == options_.username;
  const bool password_ok = options_.password.empty() || field(m, FIX::FIELD::Password) == options_.password;
  if (!user_ok || !password_ok) {
    event("logon_rejected", {{"reason", "bad credentials"}});
    throw FIX::RejectLogon("bad credentials");
  }
}

void Venue::fromApp(const FIX::Message &message,
                    const FIX::SessionID &) throw(FIX::FieldNotFound, FIX::IncorrectDataFormat,
                                                  FIX::IncorrectTagValue, FIX::UnsupportedMessageType) {
  const std::string type = field(message.getHeader(), FIX::FIELD::MsgType);
  const bool poss_dup = field(message.getHeader(), FIX::FIELD::PossDupFlag) == "Y";
  FIX::Message copy(message);
  scheduler_.after(options_.ack_delay_ms, [this, type, poss_dup, copy] {
    if (type == "D")
      new_order(copy, poss_dup);
    else if (type == "F")
      cancel(copy);
    else if (type == "G")
      replace(copy);
    else if (type == "H")
      status(copy);
    else if (type == "AF")
      mass_status(copy);
    else
      event("unsupported_message", {{"msg_type", type}});
  });
}

std::string Venue::next_exec_id() {
  return "X" + run_id_ + "-" + std::to_string(++exec_seq_);
}

void Venue::send(FIX::Message &m) {
  FIX::SessionID id;
  {
    std::lock_guard<std::mutex> lock(session_mutex_);
    if (!have_session_)
      return;
    id = session_;
  }
  try {
    // While the client is disconnected QuickFIX stores the message; the client's ResendRequest
    // after its next logon gets it (with PossDupFlag=Y).
    FIX::Session::sendToTarget(m, id);
  } catch (const FIX::Exception &e) {
    event("send_failed", {{"error", e.what()}});
  }
}

void Venue::toApp(FIX::Message &message, const FIX::SessionID &) throw(FIX::DoNotSend) {
  const std::string exec_id = field(message, FIX::FIELD::ExecID);
  std::lock_guard<std::mutex> lock(possdup_mutex_);
  auto it = possdup_exec_ids_.find(exec_id);
  if (exec_id.empty() || it == possdup_exec_ids_.end())
    return;
  possdup_exec_ids_.erase(it);
  FIX::Header &header = message.getHeader();
  header.setField(FIX::FIELD::PossDupFlag, "Y");
  header.setField(FIX::FIELD::OrigSendingTime, field(header, FIX::FIELD::SendingTime));
}

void Venue::send_possdup(const FIX::Message &report) {
  FIX::Message copy(report);
  {
    std::lock_guard<std::mutex> lock(possdup_mutex_);
    possdup_exec_ids_.insert(field(copy, FIX::FIELD::ExecID));
  }
  send(copy);
}

FIX::Message Venue::report(const Order &o, char exec_type, const std::string &text) {
  FIX44::ExecutionReport r;
  r.setField(FIX::FIELD::OrderID, o.venue_order_id);
  r.setField(FIX::FIELD::ExecID, next_exec_id());
  r.setField(FIX::FIELD::ExecType, std::string(1, exec_type));
  r.setField(FIX::FIELD::OrdStatus, std::string(1, o.status));
  r.setField(FIX::FIELD::ClOrdID, o.cl_ord_id);
  r.setField(FIX::FIELD::Symbol, o.symbol);
  r.setField(FIX::FIELD::Side, std::string(1, o.side));
  r.setField(FIX::FIELD::OrdType, std::string(1, o.ord_type));
  r.setField(FIX::FIELD::TimeInForce, std::string(1, o.tif));
  r.setField(FIX::FIELD::OrderQty, number(o.qty));
  if (o.ord_type == '2' || o.ord_type == '4')
    r.setField(FIX::FIELD::Price, number(o.price));
  r.setField(FIX::FIELD::CumQty, number(o.cum));
  r.setField(FIX::FIELD::LeavesQty, number(o.terminal() ? 0 : round6(o.qty - o.cum)));
  r.setField(FIX::FIELD::AvgPx, number(o.avg()));
  r.setField(FIX::FIELD::TransactTime, fix_broker::fix_timestamp(now_ns()));
  if (!text.empty())
    r.setField(FIX::FIELD::Text, text);
  return r;
}

void Venue::new_order(const FIX::Message &m, bool poss_dup) {
  const std::string cl = field(m, FIX::FIELD::ClOrdID);
  if (by_cl_ord_id_.count(cl)) {
    if (poss_dup) { // a resend of one we have: nothing to do
      event("duplicate_order_ignored", {{"cl_ord_id", cl}});
      return;
    }
    Order dup;
    dup.cl_ord_id = cl, dup.venue_order_id = "NONE", dup.symbol = field(m, FIX::FIELD::Symbol);
    dup.side = char_field(m, FIX::FIELD::Side, '1'), dup.status = '8';
    FIX::Message r = report(dup, '8', "duplicate ClOrdID");
    r.setField(FIX::FIELD::OrdRejReason, "6");
    send(r);
    event("order_rejected", {{"cl_ord_id", cl}, {"reason", "duplicate ClOrdID"}});
    return;
  }
  auto o = std::make_shared<Order>();
  o->number = ++orders_seen_;
  o->cl_ord_id = cl;
  o->venue_order_id = "V" + run_id_ + "-" + std::to_string(o->number);
  o->symbol = field(m, FIX::FIELD::Symbol);
  o->side = char_field(m, FIX::FIELD::Side, '1');
  o->ord_type = char_field(m, FIX::FIELD::OrdType, '1');
  o->tif = char_field(m, FIX::FIELD::TimeInForce, '0');
  o->qty = number_field(m, FIX::FIELD::OrderQty);
  o->price = number_field(m, FIX::FIELD::Price);
  o->stop = number_field(m, FIX::FIELD::StopPx);
  by_cl_ord_id_[cl] = o;

  std::string reject;
  int reason = 0;
  if (options_.reject_symbols.count(o->symbol))
    reject = "symbol " + o->symbol + " is not tradable here", reason = 1;
  else if (o->qty <= 0)
    reject = "quantity must be positive", reason = 99;
  else if (options_.max_qty > 0 && o->qty > options_.max_qty)
    reject = "quantity " + number(o->qty) + " above the maximum " + number(options_.max_qty), reason = 3;
  if (!reject.empty()) {
    o->status = '8';
    FIX::Message r = report(*o, '8', reject);
    r.setField(FIX::FIELD::OrdRejReason, std::to_string(reason));
    send(r);
    event("order_rejected", {{"cl_ord_id", cl}, {"number", o->number}, {"reason", reject}});
    return;
  }
  o->status = '0';
  FIX::Message ack = report(*o, '0');
  send(ack);
  event("order_acked", {{"cl_ord_id", cl},
                        {"number", o->number},
                        {"symbol", o->symbol},
                        {"qty", o->qty},
                        {"ord_type", std::string(1, o->ord_type)},
                        {"tif", std::string(1, o->tif)}});
  if (options_.drop_after_ack == o->number) {
    event("fault_drop_connection", {{"cl_ord_id", cl}});
    FIX::Session *session = FIX::Session::lookupSession(session_);
    if (session)
      session->disconnect();
  }
  const uint64_t generation = o->generation;
  scheduler_.after(options_.fill_delay_ms, [this, o, generation] {
    if (o->generation == generation)
      execute(o);
  });
}

bool Venue::executable(const Order &o, double *px) const {
  auto it = last_.find(o.symbol);
  const double last = it != last_.end() ? it->second : options_.default_mid;
  const bool buy = o.side == '1';
  const bool stop = o.ord_type == '3' || o.ord_type == '4';
  if (stop && (buy ? last < o.stop : last > o.stop))
    return false; // not triggered
  if (o.ord_type == '1' || o.ord_type == '3') {
    *px = last;
    return true;
  }
  // Limit: a marketable one executes at its limit, which becomes the last price.
  if (buy ? o.price >= last : o.price <= last) {
    *px = o.price;
    return true;
  }
  return false;
}

void Venue::execute(const std::shared_ptr<Order> &o) {
  if (o->terminal())
    return;
  double px = 0;
  const bool immediate = o->tif == '3' || o->tif == '4';
  if (!executable(*o, &px)) {
    if (immediate)
      expire(o, o->generation, "not marketable (IOC/FOK)");
    else if (o->tif == '0' && options_.day_length_ms > 0) {
      const uint64_t generation = o->generation;
      scheduler_.after(options_.day_length_ms,
                       [this, o, generation] { expire(o, generation, "end of day"); });
    }
    if (!immediate)
      event("order_resting", {{"cl_ord_id", o->cl_ord_id}, {"price", o->price}, {"stop", o->stop}});
    return;
  }
  const double target = round6(o->qty * options_.fill_fraction) - o->cum;
  double done = 0;
  for (int i = 1; i <= options_.partial_fills && target > 0; ++i) {
    double upto = i == options_.partial_fills ? target : round6(target * i / options_.partial_fills);
    double piece = round6(upto - done);
    done = upto;
    if (piece > 0)
      fill(o, o->generation, piece, px);
  }
  if (!o->terminal() && immediate)
    expire(o, o->generation, "IOC remainder");
}

void Venue::fill(const std::shared_ptr<Order> &o, uint64_t generation, double qty, double px) {
  if (o->generation != generation || o->terminal())
    return;
  if (!o->first_fill_sent && options_.skip_seq_order == o->number) {
    FIX::Session *session = FIX::Session::lookupSession(session_);
    if (session) {
      int next = session->getExpectedSenderNum();
      session->setNextSenderMsgSeqNum(next + options_.skip_seq_count);
      event("fault_skip_seq", {{"from", next}, {"to", next + options_.skip_seq_count}});
    }
  }
  o->cum = round6(o->cum + qty);
  o->notional += qty * px;
  o->status = o->cum >= o->qty ? '2' : '1';
  last_[o->symbol] = px;
  FIX::Message r = report(*o, 'F');
  r.setField(FIX::FIELD::LastQty, number(qty));
  r.setField(FIX::FIELD::LastPx, number(px));
  if (options_.commission_per_share > 0) {
    r.setField(FIX::FIELD::Commission, number(options_.commission_per_share));
    r.setField(FIX::FIELD::CommType, "1");
  }
  const std::string exec_id = field(r, FIX::FIELD::ExecID);
  send(r);
  fills_sent_.push_back(r);
  event("fill_sent", {{"cl_ord_id", o->cl_ord_id},
                      {"exec_id", exec_id},
                      {"qty", qty},
                      {"px", px},
                      {"cum", o->cum},
                      {"status", std::string(1, o->status)}});
  if (!o->first_fill_sent && options_.possdup_fill == o->number) {
    send_possdup(r);
    event("fault_possdup_sent", {{"exec_id", exec_id}});
  }
  o->first_fill_sent = true;
}

void Venue::expire(const std::shared_ptr<Order> &o, uint64_t generation, const std::string &why) {
  if (o->generation != generation || o->terminal())
    return;
  const bool day_end = why == "end of day";
  o->status = day_end ? 'C' : '4';
  FIX::Message r = report(*o, day_end ? 'C' : '4', why);
  send(r);
  event(day_end ? "order_expired" : "order_cancelled", {{"cl_ord_id", o->cl_ord_id}, {"reason", why}});
}

void Venue::cancel_reject(const FIX::Message &request, const Order *o, int response_to, int reason,
                          const std::string &text) {
  FIX44::OrderCancelReject r;
  r.setField(FIX::FIELD::OrderID, o ? o->venue_order_id : "NONE");
  r.setField(FIX::FIELD::ClOrdID, field(request, FIX::FIELD::ClOrdID));
  r.setField(FIX::FIELD::OrigClOrdID, field(request, FIX::FIELD::OrigClOrdID));
  r.setField(FIX::FIELD::OrdStatus, std::string(1, o ? o->status : '8'));
  r.setField(FIX::FIELD::CxlRejResponseTo, std::to_string(response_to));
  r.setField(FIX::FIELD::CxlRejReason, std::to_string(reason));
  r.setField(FIX::FIELD::Text, text);
  send(r);
  event("cancel_rejected", {{"orig_cl_ord_id", field(request, FIX::FIELD::OrigClOrdID)},
                            {"response_to", response_to},
                            {"reason", text}});
}

void Venue::cancel(const FIX::Message &m) {
  const std::string orig = field(m, FIX::FIELD::OrigClOrdID), cl = field(m, FIX::FIELD::ClOrdID);
  auto it = by_cl_ord_id_.find(orig);
  if (it == by_cl_ord_id_.end())
    return cancel_reject(m, nullptr, 1, 1, "unknown order");
  auto o = it->second;
  if (o->terminal())
    return cancel_reject(m, o.get(), 1, 0, "too late to cancel");
  ++o->generation;
  o->status = '4';
  o->cl_ord_id = cl;
  by_cl_ord_id_[cl] = o;
  FIX::Message r = report(*o, '4');
  r.setField(FIX::FIELD::OrigClOrdID, orig);
  send(r);
  event("order_cancelled", {{"cl_ord_id", cl}, {"orig_cl_ord_id", orig}});
}

void Venue::replace(const FIX::Message &m) {
  const std::string orig = field(m, FIX::FIELD::OrigClOrdID), cl = field(m, FIX::FIELD::ClOrdID);
  auto it = by_cl_ord_id_.find(orig);
  if (it == by_cl_ord_id_.end())
    return cancel_reject(m, nullptr, 2, 1, "unknown order");
  auto o = it->second;
  if (o->terminal())
    return cancel_reject(m, o.get(), 2, 0, "too late to replace");
  const double qty = m.isSetField(FIX::FIELD::OrderQty) ? number_field(m, FIX::FIELD::OrderQty) : o->qty;
  if (qty <= o->cum)
    return cancel_reject(m, o.get(), 2, 99, "new quantity not above the filled quantity");
  ++o->generation;
  o->qty = qty;
  if (m.isSetField(FIX::FIELD::Price))
    o->price = number_field(m, FIX::FIELD::Price);
  if (m.isSetField(FIX::FIELD::StopPx))
    o->stop = number_field(m, FIX::FIELD::StopPx);
  o->ord_type = char_field(m, FIX::FIELD::OrdType, o->ord_type);
  o->tif = char_field(m, FIX::FIELD::TimeInForce, o->tif);
  o->cl_ord_id = cl;
  o->status = o->cum > 0 ? '1' : '0';
  by_cl_ord_id_[cl] = o;
  FIX::Message r = report(*o, '5');
  r.setField(FIX::FIELD::OrigClOrdID, orig);
  send(r);
  event("order_replaced",
        {{"cl_ord_id", cl}, {"orig_cl_ord_id", orig}, {"qty", o->qty}, {"price", o->price}});
  execute(o);
}

void Venue::status(const FIX::Message &m) {
  const std::string cl = field(m, FIX::FIELD::ClOrdID);
  auto it = by_cl_ord_id_.find(cl);
  if (it == by_cl_ord_id_.end()) {
    Order unknown;
    unknown.cl_ord_id = cl, unknown.venue_order_id = "NONE", unknown.status = '8';
    unknown.symbol = field(m, FIX::FIELD::Symbol), unknown.side = char_field(m, FIX::FIELD::Side, '1');
    FIX::Message r = report(unknown, 'I', "unknown order");
    send(r);
    event("status_sent", {{"cl_ord_id", cl}, {"status", "unknown"}});
    return;
  }
  FIX::Message r = report(*it->second, 'I');
  send(r);
  event("status_sent", {{"cl_ord_id", cl}, {"status", std::string(1, it->second->status)}});
}

void Venue::mass_status(const FIX::Message &m) {
  const std::string id = field(m, FIX::FIELD::MassStatusReqID);
  std::vector<std::shared_ptr<Order>> open;
  for (auto &entry : by_cl_ord_id_)
    if (!entry.second->terminal() && entry.first == entry.second->cl_ord_id)
      open.push_back(entry.second);
  for (size_t i = 0; i < open.size(); ++i) {
    FIX::Message r = report(*open[i], 'I');
    r.setField(FIX::FIELD::MassStatusReqID, id);
    r.setField(FIX::FIELD::TotNumReports, std::to_string(open.size()));
    r.setField(FIX::FIELD::LastRptRequested, i + 1 == open.size() ? "Y" : "N");
    send(r);
  }
  if (open.empty()) { // one report saying "none", so the client knows the answer is complete
    Order none;
    none.cl_ord_id = "NONE", none.venue_order_id = "NONE", none.status = '8';
    FIX::Message r = report(none, 'I', "no open orders");
    r.setField(FIX::FIELD::MassStatusReqID, id);
    r.setField(FIX::FIELD::TotNumReports, "0");
    r.setField(FIX::FIELD::LastRptRequested, "Y");
    send(r);
  }
  event("mass_status_sent", {{"request_id", id}, {"reports", open.size()}});
}

void Venue::replay_fills() {
  for (const FIX::Message &sent : fills_sent_)
    send_possdup(sent);
  event("fault_fills_replayed", {{"count", fills_sent_.size()}});
}

} // namespace fix_venue
