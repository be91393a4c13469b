// The FIX 4.4 initiator session as the plugin sees it: plain structs in, plain structs out.
// This header is shared by the C++20 plugin code and the C++14 QuickFIX code (QuickFIX's headers
// use dynamic exception specifications that C++17 rejects), so it uses nothing newer than C++14
// and includes no QuickFIX header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace fix_broker {

struct SessionConfig {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string sender_comp_id, target_comp_id;
  int heartbeat_s = 30;
  int reconnect_interval_s = 2;
  std::string store_dir;          // FileStore directory (sequence numbers and sent messages)
  std::string username, password; // Logon 553/554 when set; never logged
  bool tls = false;               // QuickFIX's SSL initiator
  std::string tls_ca_file;        // CertificationAuthoritiesFile
  bool reset_on_logon = false;    // ResetSeqNumFlag 141=Y at each logon
};

// Characters are the FIX enumeration values (54, 40, 59, 150, 39).
struct NewOrder {
  std::string cl_ord_id, symbol;
  char side = '1';
  char ord_type = '1';
  char time_in_force = '0';
  double quantity = 0;
  bool has_price = false, has_stop = false;
  double price = 0, stop_px = 0;
  int64_t transact_time_ns = 0;
};

struct CancelRequest {
  std::string cl_ord_id, orig_cl_ord_id, symbol;
  char side = '1';
  double quantity = 0;
  int64_t transact_time_ns = 0;
};

struct ReplaceRequest {
  NewOrder order; // cl_ord_id: the new id; the rest: the order as it should become
  std::string orig_cl_ord_id;
};

// An ExecutionReport (35=8) or an OrderCancelReject (35=9), as received.
struct Report {
  bool cancel_reject = false; // 35=9
  char exec_type = 0;         // 150
  char ord_status = 0;        // 39
  char side = 0;              // 54
  std::string exec_id, cl_ord_id, orig_cl_ord_id, venue_order_id, symbol, text, mass_status_req_id;
  double order_qty = 0, last_qty = 0, last_px = 0, leaves_qty = 0, cum_qty = 0, avg_px = 0;
  bool has_commission = false;
  double commission = 0;           // 12
  char comm_type = 0;              // 13: '1' per unit, '2' percent, '3' absolute
  int cxl_rej_response_to = 0;     // 434 (35=9)
  int tot_num_reports = -1;        // 911 on a mass status answer; -1 = absent
  bool last_rpt_requested = false; // 912=Y
  bool poss_dup = false;           // 43=Y
  int64_t transact_time_ns = 0;
};

// Called on QuickFIX's session thread.
class SessionEvents {
public:
  virtual ~SessionEvents() = default;
  virtual void on_logon() = 0;
  virtual void on_logout() = 0;
  virtual void on_report(const Report &report) = 0;
  // QuickFIX's session events (connects, resends, rejects); never message text.
  virtual void on_session_event(const std::string &text) = 0;
};

class Session {
public:
  virtual ~Session() = default;
  virtual void start() = 0;
  virtual void stop() = 0; // Logout, then disconnect; idempotent
  virtual bool logged_on() const = 0;
  // false with *error set when the message could not be handed to the session.
  virtual bool send(const NewOrder &order, std::string *error) = 0;
  virtual bool send(const CancelRequest &cancel, std::string *error) = 0;
  virtual bool send(const ReplaceRequest &replace, std::string *error) = 0;
  virtual bool request_status(const std::string &cl_ord_id, const std::string &symbol, char side,
                              std::string *error) = 0;                                     // 35=H
  virtual bool request_mass_status(const std::string &request_id, std::string *error) = 0; // 35=AF
};

// Throws std::runtime_error when QuickFIX rejects the configuration.
std::unique_ptr<Session> make_session(const SessionConfig &config, SessionEvents &events);

// Whether this build has QuickFIX's SSL initiator.
bool tls_available();

} // namespace fix_broker
