// Sub-commands of the tradehost binary, one file each. Each takes the arguments after its own
// name and returns the exit code: 0 ok, 1 runtime failure, 2 usage or configuration error.
#pragma once

#include <string>
#include <vector>

namespace th::cli {

using Args = std::vector<std::string>;

int run_command(const Args &);           // run.cpp: run a deployment until SIGINT/SIGTERM
int validate_command(const Args &);      // validate.cpp: check a deployment, start nothing
int plugins_command(const Args &);       // plugins.cpp: list loaded plugins and refusals
int replay_command(const Args &);        // replay.cpp: feed signals.jsonl through a deployment
int send_command(const Args &);          // send.cpp: sign and post a webhook
int audit_command(const Args &);         // audit.cpp: verify / export / keygen
int trace_command(const Args &);         // trail_view.cpp: one signal's story from the audit trail
int tail_command(const Args &);          // trail_view.cpp: the audit trail, one line per event, -f to follow
int completion_command(const Args &);    // completion.cpp: shell completion script
int trading_state_command(const Args &); // trading_state.cpp: show or set a running host's trading state

} // namespace th::cli
