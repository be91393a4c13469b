// fix-broker parameters: the JSON Schema the host validates against, and the parser the plugin
// itself runs (a plugin may be created without the host's check).
#pragma once

#include "session.hpp"

#include <string>
#include <string_view>

namespace fix_broker {

inline constexpr char params_schema[] = R"json({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "fix-broker parameters",
  "type": "object",
  "additionalProperties": false,
  "required": ["port", "sender_comp_id", "target_comp_id"],
  "properties": {
    "host": {"type": "string", "default": "127.0.0.1", "description": "the venue's address"},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535, "description": "the venue's FIX port"},
    "sender_comp_id": {"type": "string", "minLength": 1, "description": "SenderCompID 49 (ours)"},
    "target_comp_id": {"type": "string", "minLength": 1, "description": "TargetCompID 56 (the venue's)"},
    "heartbeat_s": {"type": "integer", "minimum": 1, "default": 30, "description": "HeartBtInt 108"},
    "reconnect_interval_s": {"type": "integer", "minimum": 1, "default": 2,
      "description": "seconds between connection attempts while not logged on"},
    "logon_timeout_s": {"type": "number", "minimum": 0, "default": 10,
      "description": "how long start() waits for the first logon before the host goes on without it"},
    "username": {"type": "string", "description": "Username 553 (not secret)"},
    "username_env": {"type": "string", "description": "environment variable holding Username 553"},
    "password_env": {"type": "string", "description": "environment variable holding Password 554"},
    "password_file": {"type": "string", "description": "file holding Password 554 (first line)"},
    "tls": {"type": "boolean", "default": false, "description": "connect with QuickFIX's SSL initiator"},
    "tls_ca_file": {"type": "string", "description": "CA bundle that verifies the venue's certificate"},
    "state_dir": {"type": "string",
      "description": "sequence store and journal; default $TRADEHOST_DATA_DIR (or ./var)/fix-broker/SENDER-TARGET"},
    "venue": {"type": "string", "description": "execution_venue on fills; default fix:TARGET"},
    "fsync": {"type": "boolean", "default": true, "description": "fdatasync the journal after each record"},
    "reset_on_logon": {"type": "boolean", "default": false, "description": "ResetSeqNumFlag 141=Y at logon"}
  }
})json";

struct Params {
  SessionConfig session;
  double logon_timeout_s = 10;
  std::string state_dir, venue;
  bool fsync = true;
};

// Parses the params object and resolves credentials from the environment or files. Throws
// std::invalid_argument naming the offending parameter (never a credential's value).
Params parse_params(std::string_view json_text);

} // namespace fix_broker
