// kill -9 while the plugin writes: the chain left behind verifies, and a restart continues it.
#include "test_dir.hpp"

#include <audit_chain/checkpoint.hpp>
#include <audit_chain/head.hpp>
#include <audit_chain/verify.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

extern char **environ;

namespace th::audit {
namespace {

pid_t spawn(const std::vector<std::string> &args) {
  std::vector<char *> argv;
  argv.reserve(args.size() + 1);
  for (auto &a : args)
    argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
    return -1;
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

uint64_t head_position(const std::string &db) {
  try {
    return read_head(db).chain_position;
  } catch (const std::exception &) { // not created yet
    return 0;
  }
}

TEST(AuditCrash, KilledWriterLeavesAValidChainThatARestartContinues) {
  audit_test::TempDir dir;
  std::string db = dir / "crash.db";
  generate_key_pair(dir / "k");
  std::vector<std::string> base{AUDIT_WRITER_DRIVER, "--plugin", AUDIT_SQLITE_SO, "--db", db, "--key",
                                dir / "k.key"};

  auto run1 = base;
  run1.insert(run1.end(), {"--prefix", "run1", "--forever"});
  pid_t pid = spawn(run1);
  ASSERT_GT(pid, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (head_position(db) < 2000 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  EXPECT_EQ(wait_exit(pid), 128 + SIGKILL);

  VerifyOptions options{dir / "k.pub", db + ".checkpoints.jsonl"};
  auto after_crash = verify(db, options);
  ASSERT_TRUE(after_crash.ok()) << after_crash.first_problem->detail;
  ASSERT_GE(after_crash.head_position, 2000u) << "the writer never got going";

  auto run2 = base;
  run2.insert(run2.end(), {"--prefix", "run2", "--count", "500"});
  ASSERT_EQ(wait_exit(spawn(run2)), 0);

  auto after_restart = verify(db, options);
  ASSERT_TRUE(after_restart.ok()) << after_restart.first_problem->detail;
  EXPECT_EQ(after_restart.head_position, after_crash.head_position + 500);
  Head head = read_head(db);
  ASSERT_TRUE(head.last_checkpoint);
  EXPECT_EQ(head.last_checkpoint->chain_position, head.chain_position); // the final checkpoint at stop
}

} // namespace
} // namespace th::audit
