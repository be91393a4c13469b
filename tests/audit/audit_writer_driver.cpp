// Writes sample audit events through the audit-sqlite plugin (loaded with dlopen through the
// real C ABI), for the crash test and the Python recompute test.
//
//   audit_writer_driver --plugin SO --db PATH [--key PEM] [--prefix P] [--start N]
//                       (--count N | --forever) [--fresh]
//
// --forever writes until killed. Exit 0 after a clean stop, 1 on a plugin error, 2 on usage.
#include "plugin_harness.hpp"
#include "sample_events.hpp"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

int main(int argc, char **argv) {
  std::string plugin, db, key, prefix = "evt";
  uint64_t count = 0, start = 0;
  bool forever = false, fresh = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "audit_writer_driver: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--plugin")
      plugin = next();
    else if (a == "--db")
      db = next();
    else if (a == "--key")
      key = next();
    else if (a == "--prefix")
      prefix = next();
    else if (a == "--start")
      start = std::stoull(next());
    else if (a == "--count")
      count = std::stoull(next());
    else if (a == "--forever")
      forever = true;
    else if (a == "--fresh")
      fresh = true;
    else {
      std::fprintf(stderr, "audit_writer_driver: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (plugin.empty() || db.empty() || (!forever && count == 0)) {
    std::fputs("usage: audit_writer_driver --plugin SO --db PATH [--key PEM] [--prefix P] [--start N] "
               "(--count N | --forever) [--fresh]\n",
               stderr);
    return 2;
  }
  if (fresh) {
    std::filesystem::create_directories(std::filesystem::path(db).parent_path());
    for (const char *suffix : {"", "-wal", "-shm", ".checkpoints.jsonl"})
      std::filesystem::remove(db + suffix);
  }
  std::string params = R"({"path":")" + db + R"(","checkpoint_every":100)";
  if (!key.empty())
    params += R"(,"signing_key":")" + key + R"(")";
  params += "}";
  try {
    th::test::PluginHarness h(plugin, params);
    for (uint64_t i = start; forever || i < start + count; ++i) {
      auto event = th::audit_test::sample_event(prefix, i);
      th_audit_event view = event.view();
      if (h.d->on_audit_event(h.inst, &view) != TH_OK) {
        std::fprintf(stderr, "audit_writer_driver: event %s: %s\n", event.event_id.c_str(),
                     h.error().c_str());
        return 1;
      }
    }
    if (h.d->stop(h.inst) != TH_OK) {
      std::fprintf(stderr, "audit_writer_driver: stop: %s\n", h.error().c_str());
      return 1;
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "audit_writer_driver: %s\n", e.what());
    return 1;
  }
  return 0;
}
