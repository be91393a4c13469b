// The library's single exported entry point.
#include "broker.hpp"

TRADEHOST_PLUGIN(fix_broker::Broker, TH_KIND_EXECUTOR, "fix-broker", "0.1.0",
                 "FIX 4.4 executor on QuickFIX: order intents as NewOrderSingle, ExecutionReports as fills "
                 "(each ExecID once, across resends, reconnects and restarts)",
                 fix_broker::params_schema)
