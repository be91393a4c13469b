// Runs the audit_cli_driver (`tradehost audit|trace|tail ...` built from the host's own command
// functions) with arguments, as a shell would, and returns its exit code and stdout.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace th::audit_test {

struct CliResult {
  int code;
  std::string out;
};

inline CliResult cli(const std::string &args) {
  std::string command = std::string(AUDIT_CLI) + " " + args + " 2>/dev/null";
  std::FILE *p = ::popen(command.c_str(), "r");
  CliResult r{-1, ""};
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;)
    r.out.append(buf, n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

} // namespace th::audit_test
