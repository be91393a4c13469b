// The QuickFIX side of the plugin (compiled as C++14: see session.hpp). Builds QuickFIX settings
// from SessionConfig, runs a threaded initiator, turns plain structs into FIX 4.4 messages and
// incoming ExecutionReports / OrderCancelRejects into Reports.
#include "session.hpp"

#include "fix_time.hpp"

#include <quickfix/Application.h>
#include <quickfix/FileStore.h>
#include <quickfix/Log.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/ThreadedSSLSocketInitiator.h>
#include <quickfix/ThreadedSocketInitiator.h>
#include <quickfix/fix44/NewOrderSingle.h>
#include <quickfix/fix44/OrderCancelReplaceRequest.h>
#include <quickfix/fix44/OrderCancelRequest.h>
#include <quickfix/fix44/OrderMassStatusRequest.h>
#include <quickfix/fix44/OrderStatusRequest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace fix_broker {
namespace {

std::string number(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%.10g", v);
  return text;
}

std::string field(const FIX::FieldMap &m, int tag) {
  return m.isSetField(tag) ? m.getField(tag) : std::string();
}
double number_field(const FIX::FieldMap &m, int tag) {
  if (!m.isSetField(tag))
    return 0;
  try {
    return std::stod(m.getField(tag));
  } catch (...) {
    return 0;
  }
}
char char_field(const FIX::FieldMap &m, int tag) {
  std::string v = field(m, tag);
  return v.empty() ? 0 : v[0];
}

// QuickFIX's session events go to the host log; message text never does (a Logon carries 554).
class EventLog : public FIX::Log {
public:
  explicit EventLog(SessionEvents &events) : events_(events) {}
  void clear() override {}
  void backup() override {}
  void onIncoming(const std::string &) override {}
  void onOutgoing(const std::string &) override {}
  void onEvent(const std::string &text) override { events_.on_session_event(text); }

private:
  SessionEvents &events_;
};

class EventLogFactory : public FIX::LogFactory {
public:
  explicit EventLogFactory(SessionEvents &events) : events_(events) {}
  FIX::Log *create() override { return new EventLog(events_); }
  FIX::Log *create(const FIX::SessionID &) override { return new EventLog(events_); }
  void destroy(FIX::Log *log) override { delete log; }

private:
  SessionEvents &events_;
};

class Application : public FIX::Application {
public:
  Application(const SessionConfig &config, SessionEvents &events) : config_(config), events_(events) {}

  std::atomic<bool> logged_on{false};

  void onCreate(const FIX::SessionID &) override {}
  void onLogon(const FIX::SessionID &) override {
    logged_on = true;
    events_.on_logon();
  }
  void onLogout(const FIX::SessionID &) override {
    logged_on = false;
    events_.on_logout();
  }
  void toAdmin(FIX::Message &message, const FIX::SessionID &) override {
    if (field(message.getHeader(), FIX::FIELD::MsgType) != "A")
      return;
    if (!config_.username.empty())
      message.setField(FIX::FIELD::Username, config_.username);
    if (!config_.password.empty())
      message.setField(FIX::FIELD::Password, config_.password);
  }
  // The same exception lists as FIX::Application's (a looser one does not compile).
  void toApp(FIX::Message &, const FIX::SessionID &) throw(FIX::DoNotSend) override {}
  void fromAdmin(const FIX::Message &,
                 const FIX::SessionID &) throw(FIX::FieldNotFound, FIX::IncorrectDataFormat,
                                               FIX::IncorrectTagValue, FIX::RejectLogon) override {}
  void fromApp(const FIX::Message &message,
               const FIX::SessionID &) throw(FIX::FieldNotFound, FIX::IncorrectDataFormat,
                                             FIX::IncorrectTagValue, FIX::UnsupportedMessageType) override {
    const std::string type = field(message.getHeader(), FIX::FIELD::MsgType);
    if (type != "8" && type != "9")
      return; // nothing else is expected from a broker here; QuickFIX has already sequenced it
    Report r;
    r.cancel_reject = type == "9";
    r.exec_type = char_field(message, FIX::FIELD::ExecType);
    r.ord_status = char_field(message, FIX::FIELD::OrdStatus);
    r.side = char_field(message, FIX::FIELD::Side);
    r.exec_id = field(message, FIX::FIELD::ExecID);
    r.cl_ord_id = field(message, FIX::FIELD::ClOrdID);
    r.orig_cl_ord_id = field(message, FIX::FIELD::OrigClOrdID);
    r.venue_order_id = field(message, FIX::FIELD::OrderID);
    r.symbol = field(message, FIX::FIELD::Symbol);
    r.text = field(message, FIX::FIELD::Text);
    r.mass_status_req_id = field(message, FIX::FIELD::MassStatusReqID);
    r.order_qty = number_field(message, FIX::FIELD::OrderQty);
    r.last_qty = number_field(message, FIX::FIELD::LastQty);
    r.last_px = number_field(message, FIX::FIELD::LastPx);
    r.leaves_qty = number_field(message, FIX::FIELD::LeavesQty);
    r.cum_qty = number_field(message, FIX::FIELD::CumQty);
    r.avg_px = number_field(message, FIX::FIELD::AvgPx);
    r.has_commission = message.isSetField(FIX::FIELD::Commission);
    r.commission = number_field(message, FIX::FIELD::Commission);
    r.comm_type = char_field(message, FIX::FIELD::CommType);
    r.cxl_rej_response_to = static_cast<int>(number_field(message, FIX::FIELD::CxlRejResponseTo));
    if (message.isSetField(FIX::FIELD::TotNumReports))
      r.tot_num_reports = static_cast<int>(number_field(message, FIX::FIELD::TotNumReports));
    r.last_rpt_requested = field(message, FIX::FIELD::LastRptRequested) == "Y";
    r.poss_dup = field(message.getHeader(), FIX::FIELD::PossDupFlag) == "Y";
    r.transact_time_ns = parse_fix_timestamp(field(message, FIX::FIELD::TransactTime));
    events_.on_report(r);
  }

private:
  SessionConfig config_;
  SessionEvents &events_;
};

void set_order_fields(FIX::Message &m, const NewOrder &o) {
  m.setField(FIX::FIELD::ClOrdID, o.cl_ord_id);
  m.setField(FIX::FIELD::Symbol, o.symbol);
  m.setField(FIX::FIELD::Side, std::string(1, o.side));
  m.setField(FIX::FIELD::OrderQty, number(o.quantity));
  m.setField(FIX::FIELD::OrdType, std::string(1, o.ord_type));
  m.setField(FIX::FIELD::TimeInForce, std::string(1, o.time_in_force));
  if (o.has_price)
    m.setField(FIX::FIELD::Price, number(o.price));
  if (o.has_stop)
    m.setField(FIX::FIELD::StopPx, number(o.stop_px));
  m.setField(FIX::FIELD::TransactTime, fix_timestamp(o.transact_time_ns));
}

class QuickfixSession : public Session {
public:
  QuickfixSession(const SessionConfig &config, SessionEvents &events)
      : config_(config), app_(config, events), log_factory_(events) {
    std::ostringstream text;
    text << "[DEFAULT]\n"
         << "ConnectionType=initiator\n"
         << "ReconnectInterval=" << config.reconnect_interval_s << "\n"
         << "FileStorePath=" << config.store_dir << "\n"
         << "UseDataDictionary=N\n"
         << "StartTime=00:00:00\nEndTime=00:00:00\n"
         << "SocketNodelay=Y\n"
         << "ResetOnLogon=" << (config.reset_on_logon ? "Y" : "N") << "\n";
    if (config.tls) {
      text << "SSLProtocol=all -SSLv2 -SSLv3\n";
      if (!config.tls_ca_file.empty())
        text << "CertificationAuthoritiesFile=" << config.tls_ca_file << "\n";
    }
    text << "[SESSION]\nBeginString=FIX.4.4\n"
         << "SenderCompID=" << config.sender_comp_id << "\n"
         << "TargetCompID=" << config.target_comp_id << "\n"
         << "SocketConnectHost=" << config.host << "\n"
         << "SocketConnectPort=" << config.port << "\n"
         << "HeartBtInt=" << config.heartbeat_s << "\n";
    std::istringstream in(text.str());
    try {
      settings_.reset(new FIX::SessionSettings(in));
      store_.reset(new FIX::FileStoreFactory(config.store_dir));
      if (config.tls) {
#if (HAVE_SSL > 0)
        initiator_.reset(new FIX::ThreadedSSLSocketInitiator(app_, *store_, *settings_, log_factory_));
#else
        throw std::runtime_error("this build of QuickFIX has no SSL initiator");
#endif
      } else {
        initiator_.reset(new FIX::ThreadedSocketInitiator(app_, *store_, *settings_, log_factory_));
      }
    } catch (const FIX::Exception &e) {
      throw std::runtime_error(std::string("QuickFIX: ") + e.what());
    }
    session_id_ = FIX::SessionID("FIX.4.4", config.sender_comp_id, config.target_comp_id);
  }
  ~QuickfixSession() override {
    stop();
  }

  void start() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (started_)
      return;
    try {
      initiator_->start();
    } catch (const FIX::Exception &e) {
      throw std::runtime_error(std::string("QuickFIX start: ") + e.what());
    }
    started_ = true;
  }
  void stop() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!started_)
      return;
    started_ = false;
    try {
      initiator_->stop(); // Logout to every session, waits briefly for the answer, disconnects
    } catch (...) {
    }
  }
  bool logged_on() const override {
    return app_.logged_on;
  }

  bool send(const NewOrder &o, std::string *error) override {
    FIX44::NewOrderSingle m;
    set_order_fields(m, o);
    return deliver(m, error);
  }
  bool send(const CancelRequest &c, std::string *error) override {
    FIX44::OrderCancelRequest m;
    m.setField(FIX::FIELD::OrigClOrdID, c.orig_cl_ord_id);
    m.setField(FIX::FIELD::ClOrdID, c.cl_ord_id);
    m.setField(FIX::FIELD::Symbol, c.symbol);
    m.setField(FIX::FIELD::Side, std::string(1, c.side));
    m.setField(FIX::FIELD::OrderQty, number(c.quantity));
    m.setField(FIX::FIELD::TransactTime, fix_timestamp(c.transact_time_ns));
    return deliver(m, error);
  }
  bool send(const ReplaceRequest &r, std::string *error) override {
    FIX44::OrderCancelReplaceRequest m;
    set_order_fields(m, r.order);
    m.setField(FIX::FIELD::OrigClOrdID, r.orig_cl_ord_id);
    return deliver(m, error);
  }
  bool request_status(const std::string &cl_ord_id, const std::string &symbol, char side,
                      std::string *error) override {
    FIX44::OrderStatusRequest m;
    m.setField(FIX::FIELD::ClOrdID, cl_ord_id);
    m.setField(FIX::FIELD::Symbol, symbol);
    m.setField(FIX::FIELD::Side, std::string(1, side));
    return deliver(m, error);
  }
  bool request_mass_status(const std::string &request_id, std::string *error) override {
    FIX44::OrderMassStatusRequest m;
    m.setField(FIX::FIELD::MassStatusReqID, request_id);
    m.setField(FIX::FIELD::MassStatusReqType, "7"); // all orders
    return deliver(m, error);
  }

private:
  // Refuses while not logged on: QuickFIX would store the message and send it at the next logon
  // as a resend, an order the strategy may no longer want (see README.md, "Guarantees").
  bool deliver(FIX::Message &m, std::string *error) {
    if (!app_.logged_on) {
      *error = "venue_unavailable: the FIX session is not logged on";
      return false;
    }
    try {
      if (FIX::Session::sendToTarget(m, session_id_))
        return true;
      *error = "QuickFIX refused the message";
    } catch (const FIX::Exception &e) {
      *error = std::string("QuickFIX: ") + e.what();
    }
    return false;
  }

  SessionConfig config_;
  Application app_;
  EventLogFactory log_factory_;
  std::unique_ptr<FIX::SessionSettings> settings_;
  std::unique_ptr<FIX::FileStoreFactory> store_;
  std::unique_ptr<FIX::Initiator> initiator_;
  FIX::SessionID session_id_;
  std::mutex mutex_;
  bool started_ = false;
};

} // namespace

std::unique_ptr<Session> make_session(const SessionConfig &config, SessionEvents &events) {
  return std::unique_ptr<Session>(new QuickfixSession(config, events));
}

bool tls_available() {
#if (HAVE_SSL > 0)
  return true;
#else
  return false;
#endif
}

} // namespace fix_broker
