// Secret rotation on a running tradehost process (issue 14 finding 15): webhook secrets (listed
// and in files), passphrases and the admin token change with POST /admin/reload or SIGHUP, with
// no restart and without dropping a keep-alive connection opened before the reload.
#include "host_process.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

namespace {

using nlohmann::json;
using th::test::HostOptions;
using th::test::HostProcess;

// One HTTP/1.1 connection kept open across requests.
class KeepAliveConnection {
public:
  explicit KeepAliveConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0)
      throw std::runtime_error("connect failed");
    timeval timeout{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~KeepAliveConnection() { ::close(fd_); }

  // Sends one request and returns the status (0 when the connection was closed).
  int post(const std::string &path, const std::string &body, const th::gateway::HeaderList &headers) {
    std::string request =
        "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    for (const auto &[k, v] : headers)
      request += k + ": " + v + "\r\n";
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
      return 0;
    std::string response;
    char buffer[4096];
    size_t header_end = std::string::npos, length = 0;
    while (header_end == std::string::npos || response.size() < header_end + 4 + length) {
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0)
        return 0;
      response.append(buffer, static_cast<size_t>(n));
      if (header_end == std::string::npos && (header_end = response.find("\r\n\r\n")) != std::string::npos) {
        auto at = response.find("Content-Length: ");
        length = at < header_end ? std::stoul(response.substr(at + 16)) : 0;
      }
    }
    return std::stoi(response.substr(9, 3));
  }

private:
  int fd_ = -1;
};

std::string deployment(const std::string &data_dir, const std::vector<std::string> &secrets,
                       const std::string &secret_file, const std::string &passphrase,
                       const std::string &admin_token) {
  std::string list;
  for (const auto &s : secrets)
    list += (list.empty() ? "\"" : ", \"") + s + "\"";
  return "version: 1\ndata_dir: " + data_dir + "\nplugin_dirs: [" + TRADEHOST_PLUGIN_BUILD_DIR +
         "]\ngateway:\n  listen: 127.0.0.1:0\n  sources:\n    test:\n      secrets: [" + list +
         "]\n    filed:\n      secret_files: [" + secret_file +
         "]\n    tv:\n      auth: passphrase\n      passphrases: [\"" + passphrase +
         "\"]\nadmin:\n  token: " + admin_token + "\n";
}

const std::string signal_body = R"({"instrument":"AAPL","signal":"buy","strength":0.9,"price":100.5})";

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int post_signed(HostProcess &host, const std::string &source, const std::string &secret) {
  return th::gateway::http_request("POST", host.url("/webhook/" + source), signal_body,
                                   th::gateway::sign_webhook(secret, signal_body, now_s()))
      .status;
}

th::gateway::ClientResponse post_passphrase(HostProcess &host, const std::string &passphrase) {
  auto body = json::parse(signal_body);
  body["passphrase"] = passphrase;
  return th::gateway::http_request("POST", host.url("/webhook/tv"), body.dump());
}

th::gateway::ClientResponse reload(HostProcess &host, const std::string &token) {
  return th::gateway::http_request("POST", host.url("/admin/reload"), "",
                                   {{"Authorization", "Bearer " + token}});
}

class SecretRotation : public ::testing::Test {
protected:
  void SetUp() override {
    root_ = th::test::make_temp_dir("tradehost-rotation");
    config_ = root_ + "/deployment.yaml";
    secret_file_ = root_ + "/filed.secret";
    std::ofstream(secret_file_) << "file-secret-one\n";
    write({"old-secret", "new-secret"}, "pass-one", "admin-one");
    HostOptions options;
    options.config = config_;
    host_ = std::make_unique<HostProcess>(options);
    host_->start();
  }
  void TearDown() override {
    host_.reset();
    std::filesystem::remove_all(root_);
  }
  void write(const std::vector<std::string> &secrets, const std::string &passphrase,
             const std::string &admin) {
    std::ofstream(config_) << deployment(root_ + "/var", secrets, secret_file_, passphrase, admin);
  }

  std::string root_, config_, secret_file_;
  std::unique_ptr<HostProcess> host_;
};

TEST_F(SecretRotation, RemovingTheOldSecretAndReloadingRefusesItWithoutARestart) {
  HostProcess &host = *host_;
  EXPECT_EQ(post_signed(host, "test", "old-secret"), 200);
  EXPECT_EQ(post_signed(host, "test", "new-secret"), 200);
  EXPECT_EQ(post_signed(host, "filed", "file-secret-one"), 200);
  EXPECT_EQ(post_passphrase(host, "pass-one").status, 200);
  // A connection opened before the reload, with a request answered on it.
  KeepAliveConnection connection(host.port());
  std::string body = signal_body;
  ASSERT_EQ(connection.post("/webhook/test", body, th::gateway::sign_webhook("old-secret", body, now_s())),
            200);

  write({"new-secret"}, "pass-two", "admin-two");
  std::ofstream(secret_file_) << "file-secret-two\n"; // a secret file is read again on reload
  auto reloaded = reload(host, "admin-one");
  ASSERT_EQ(reloaded.status, 200) << reloaded.body;
  auto result = json::parse(reloaded.body);
  EXPECT_TRUE(result["ok"].get<bool>()) << reloaded.body;
  EXPECT_EQ(result["notes"], json::array()) << reloaded.body; // nothing waits for a restart
  for (const char *change : {"gateway source 'test' updated", "gateway source 'filed' updated",
                             "gateway source 'tv' updated", "admin tokens replaced"})
    EXPECT_NE(reloaded.body.find(change), std::string::npos) << change << ": " << reloaded.body;
  for (const char *secret : {"old-secret", "new-secret", "file-secret", "pass-", "admin-"})
    EXPECT_EQ(reloaded.body.find(secret), std::string::npos) << "a secret in the answer: " << reloaded.body;

  auto old_secret = th::gateway::http_request("POST", host.url("/webhook/test"), signal_body,
                                              th::gateway::sign_webhook("old-secret", signal_body, now_s()));
  EXPECT_EQ(old_secret.status, 401);
  EXPECT_NE(old_secret.body.find("GW-001"), std::string::npos) << old_secret.body;
  EXPECT_EQ(post_signed(host, "test", "new-secret"), 200);
  EXPECT_EQ(post_signed(host, "filed", "file-secret-one"), 401);
  EXPECT_EQ(post_signed(host, "filed", "file-secret-two"), 200);
  EXPECT_EQ(post_passphrase(host, "pass-one").status, 401);
  EXPECT_EQ(post_passphrase(host, "pass-two").status, 200);
  // The connection from before the reload still serves, with the new secrets.
  EXPECT_EQ(connection.post("/webhook/test", body, th::gateway::sign_webhook("old-secret", body, now_s())),
            401);
  EXPECT_EQ(connection.post("/webhook/test", body, th::gateway::sign_webhook("new-secret", body, now_s())),
            200);
  // The admin token rotated too.
  EXPECT_EQ(reload(host, "admin-one").status, 401);
  EXPECT_EQ(reload(host, "admin-two").status, 200);

  // SIGHUP reloads the same way: the old secret comes back.
  write({"old-secret", "new-secret"}, "pass-two", "admin-two");
  host.signal(SIGHUP);
  EXPECT_TRUE(th::test::eventually([&] { return post_signed(host, "test", "old-secret") == 200; }));
  EXPECT_TRUE(host.running());
  // One process all along: it started once.
  std::string log = host.log();
  size_t starts = 0;
  for (size_t at = 0; (at = log.find("\"event\":\"started\"", at)) != std::string::npos; ++at)
    ++starts;
  EXPECT_EQ(starts, 1u);
  for (const char *secret : {"old-secret", "new-secret", "file-secret-", "pass-one", "pass-two"})
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in the log";
}

TEST_F(SecretRotation, AnUnreadableSecretFileRefusesTheWholeReload) {
  HostProcess &host = *host_;
  write({"new-secret"}, "pass-two", "admin-two");
  std::filesystem::remove(secret_file_);
  auto reloaded = reload(host, "admin-one");
  EXPECT_EQ(reloaded.status, 422) << reloaded.body;
  EXPECT_NE(reloaded.body.find("cannot read secret file"), std::string::npos) << reloaded.body;
  // Nothing changed: the old secret, the old passphrase and the old token still work.
  EXPECT_EQ(post_signed(host, "test", "old-secret"), 200);
  EXPECT_EQ(post_passphrase(host, "pass-one").status, 200);
  EXPECT_EQ(reload(host, "admin-two").status, 401);
}

} // namespace
